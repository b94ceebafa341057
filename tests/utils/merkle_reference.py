"""A naive Merkle reference, written straight from the rule and used only by tests.

leaf = sha256(0x00 || item); node = sha256(0x01 || min(a, b) || max(a, b)); an odd node is
carried up unchanged. Recursion over explicit levels, no shortcuts: slow and obviously right.
"""

from __future__ import annotations

import hashlib


def leaf(item: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + item).digest()


def node(a: bytes, b: bytes) -> bytes:
    low, high = sorted([a, b])
    return hashlib.sha256(b"\x01" + low + high).digest()


def levels(items: list[bytes]) -> list[list[bytes]]:
    assert items, "at least one item"
    result = [[leaf(i) for i in items]]
    while len(result[-1]) > 1:
        below = result[-1]
        above = []
        for i in range(0, len(below), 2):
            above.append(node(below[i], below[i + 1]) if i + 1 < len(below) else below[i])
        result.append(above)
    return result


def root(items: list[bytes]) -> bytes:
    return levels(items)[-1][0]


def proof(items: list[bytes], index: int) -> list[bytes]:
    siblings = []
    for level in levels(items)[:-1]:
        partner = index + 1 if index % 2 == 0 else index - 1
        if partner < len(level):
            siblings.append(level[partner])
        index //= 2
    return siblings


def verify(root_hash: bytes, item: bytes, siblings: list[bytes]) -> bool:
    computed = leaf(item)
    for s in siblings:
        computed = node(computed, s)
    return computed == root_hash
