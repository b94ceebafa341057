"""Merkle trees over items, and inclusion proofs that AnchorRegistry verifies on-chain.

One hashing rule, shared with ``contracts/AnchorRegistry.sol``::

    leaf = H(0x00 || item)        node = H(0x01 || min(a, b) || max(a, b))

The prefixes keep a leaf from passing for an inner node (RFC 6962's domain separation);
sorting each pair makes a proof a plain list of siblings, as OpenZeppelin's ``MerkleProof``
expects. A level with an odd count carries its last node up unchanged. ``H`` is SHA-256
unless another hashlib-style constructor is passed in.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from ledger.errors import InvalidProof, RootMismatch

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class _Digest(Protocol):
    def digest(self) -> bytes: ...


Hasher = Callable[[bytes], _Digest]
"""A hashlib-style constructor: ``hasher(data).digest()`` gives the hash of ``data``."""


def leaf_hash(item: bytes, hasher: Hasher = hashlib.sha256) -> bytes:
    """The leaf of ``item``."""
    return hasher(LEAF_PREFIX + item).digest()


def node_hash(a: bytes, b: bytes, hasher: Hasher = hashlib.sha256) -> bytes:
    """The parent of two sibling nodes, whichever order they come in."""
    return hasher(NODE_PREFIX + a + b if a < b else NODE_PREFIX + b + a).digest()


def _parent_level(level: Sequence[bytes], hasher: Hasher) -> list[bytes]:
    prefix = NODE_PREFIX
    parents = [
        hasher(prefix + a + b if a < b else prefix + b + a).digest()
        for a, b in zip(level[0::2], level[1::2])
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


class MerkleTree:
    """Every level of a tree, from the leaves up to the root, kept to answer proofs.

    Build one with :meth:`from_items` (hashes each item into a leaf) or :meth:`from_leaves`.
    """

    __slots__ = ("_levels",)

    def __init__(self, levels: list[list[bytes]]) -> None:
        self._levels = levels

    @classmethod
    def from_items(cls, items: Iterable[bytes], hasher: Hasher = hashlib.sha256) -> MerkleTree:
        """The tree over ``items``; precondition: at least one item."""
        prefix = LEAF_PREFIX
        return cls.from_leaves([hasher(prefix + item).digest() for item in items], hasher)

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes], hasher: Hasher = hashlib.sha256) -> MerkleTree:
        """The tree over leaf hashes; precondition: at least one leaf."""
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        levels = [list(leaves)]
        while len(levels[-1]) > 1:
            levels.append(_parent_level(levels[-1], hasher))
        return cls(levels)

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    @property
    def leaf_count(self) -> int:
        return len(self._levels[0])

    def proof(self, index: int) -> list[bytes]:
        """The siblings from leaf ``index`` up to the root; precondition: 0 <= index < leaf_count."""
        if not 0 <= index < self.leaf_count:
            raise IndexError(f"leaf index {index} is outside a tree of {self.leaf_count} leaves")
        siblings = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                siblings.append(level[sibling])
            index >>= 1
        return siblings

    def proofs(self) -> Iterator[list[bytes]]:
        """The proof of every leaf, in leaf order."""
        return (self.proof(i) for i in range(self.leaf_count))

    def all_proofs(self) -> list[ProofPath]:
        """Every leaf's proof, built from the root down in one pass over the tree.

        A node's proof is its sibling followed by its parent's proof, so each proof is a chain
        of ``(sibling, rest)`` pairs whose tails are shared with its neighbours' proofs: all
        proofs of a tree of n leaves take 2n pairs, not n log n siblings. :func:`unfold`
        turns one into a list of siblings.
        """
        # Millions of pairs would set off the cycle collector over and over; they hold only
        # bytes and other pairs, so there is no cycle for it to find.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._proof_paths()
        finally:
            if collecting:
                gc.enable()

    def _proof_paths(self) -> list[ProofPath]:
        above: list[ProofPath] = [None]
        for level in reversed(self._levels[:-1]):
            lefts, rights = level[0::2], level[1::2]
            paths: list[ProofPath] = [None] * len(level)
            # A left child's sibling is the right one and vice versa; both share the parent's path.
            paths[0::2] = list(zip(rights, above)) + ([(None, above[-1])] if len(level) % 2 else [])
            paths[1::2] = list(zip(lefts, above))[: len(rights)]
            above = paths
        return above


ProofPath = tuple[bytes | None, "ProofPath"] | None
"""A proof as a chain of ``(sibling or None where a node was carried up, rest of the proof)``."""


def unfold(path: ProofPath) -> list[bytes]:
    """The siblings along a proof path from :meth:`MerkleTree.all_proofs`, bottom up."""
    siblings = []
    while path is not None:
        sibling, path = path
        if sibling is not None:
            siblings.append(sibling)
    return siblings


def root_from_proof(leaf: bytes, proof: Sequence[bytes], hasher: Hasher = hashlib.sha256) -> bytes:
    """The root that ``proof`` leads to from ``leaf``."""
    computed = leaf
    for i, sibling in enumerate(proof):
        if len(sibling) != len(leaf):
            raise InvalidProof(i, f"node of {len(sibling)} bytes where {len(leaf)} were expected")
        computed = node_hash(computed, sibling, hasher)
    return computed


def verify_inclusion(root: bytes, item: bytes, proof: Sequence[bytes], hasher: Hasher = hashlib.sha256) -> None:
    """Check that ``item`` is a leaf of the tree with ``root``; raise :class:`RootMismatch` if not."""
    calculated = root_from_proof(leaf_hash(item, hasher), proof, hasher)
    if calculated != root:
        raise RootMismatch(root, calculated)
