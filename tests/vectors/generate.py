"""Write the Merkle test vectors read by both pytest and the Hardhat tests.

Run from the repository root: ``.venv/bin/python -m tests.vectors.generate``. The vectors come
from the naive reference in tests/utils, never from ledger/merkle.py, which they test. Each
file holds valid proofs and deliberately broken ones, each broken one saying how it was broken.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.utils import merkle_reference as ref

SIZES = (1, 2, 3, 4, 5, 7, 8, 13, 16, 33)
HERE = Path(__file__).parent


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _flip(b: bytes, position: int) -> bytes:
    changed = bytearray(b)
    changed[position % len(b)] ^= 0x01
    return bytes(changed)


def _items(size: int) -> list[bytes]:
    # Mixed lengths: 32-byte hashes (the usual item) and short or long raw items.
    items = []
    for i in range(size):
        digest = hashlib.sha256(f"provledger vector item {size}/{i}".encode()).digest()
        items.append(digest if i % 3 else digest[: 1 + i % 7] + b"raw item bytes" * (i % 4))
    return items


def vector(size: int) -> dict[str, object]:
    items = _items(size)
    root = ref.root(items)
    cases: list[dict[str, object]] = []
    for index, item in enumerate(items):
        siblings = ref.proof(items, index)
        assert ref.verify(root, item, siblings)
        cases.append({"index": index, "item": _hex(item), "proof": [_hex(s) for s in siblings], "valid": True})
    item, siblings = items[-1], ref.proof(items, len(items) - 1)
    broken = [("one byte of the item changed", _flip(item, 3), siblings)]
    if siblings:
        broken += [
            ("one byte of the first sibling changed", item, [_flip(siblings[0], 7)] + siblings[1:]),
            ("one byte of the last sibling changed", item, siblings[:-1] + [_flip(siblings[-1], 31)]),
            ("the last sibling dropped", item, siblings[:-1]),
            ("an extra sibling appended", item, siblings + [siblings[0]]),
            ("the leaf hash given as the item", ref.leaf(item), siblings),
        ]
    else:
        broken.append(("a sibling added to a single-leaf tree", item, [ref.leaf(b"other")]))
    if size > 1:
        broken.append(("another item's proof", item, ref.proof(items, 0)))
    for why, bad_item, bad_proof in broken:
        assert not ref.verify(root, bad_item, bad_proof), why
        cases.append({"item": _hex(bad_item), "proof": [_hex(s) for s in bad_proof], "valid": False, "broken": why})
    return {
        "rule": "leaf = sha256(0x00 || item); node = sha256(0x01 || min(a,b) || max(a,b)); odd node carried up",
        "size": size,
        "items": [_hex(i) for i in items],
        "root": _hex(root),
        "cases": cases,
    }


def main() -> None:
    for size in SIZES:
        path = HERE / f"merkle_{size:03d}.json"
        path.write_text(json.dumps(vector(size), indent=1) + "\n")
        print(path)


if __name__ == "__main__":
    main()
