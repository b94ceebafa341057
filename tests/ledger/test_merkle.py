"""ledger.merkle against the shared vector files, the naive reference, and itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidProof, RootMismatch
from ledger.merkle import MerkleTree, leaf_hash, node_hash, root_from_proof, unfold, verify_inclusion
from tests.utils import merkle_reference as ref

VECTORS = sorted((Path(__file__).parent.parent / "vectors").glob("merkle_*.json"))


def _b(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text[2:])


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_vector_files_exist_with_valid_and_broken_cases() -> None:
    assert len(VECTORS) >= 8
    for path in VECTORS:
        cases = _load(path)["cases"]
        assert any(c["valid"] for c in cases) and any(not c["valid"] for c in cases)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_tree_over_vector_items_has_the_vector_root_and_proofs(path: Path) -> None:
    vector = _load(path)
    tree = MerkleTree.from_items([_b(i) for i in vector["items"]])
    assert tree.root == _b(vector["root"])
    for case in vector["cases"]:
        if case["valid"]:
            assert tree.proof(case["index"]) == [_b(s) for s in case["proof"]]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_cases_verify_exactly_when_marked_valid(path: Path) -> None:
    vector = _load(path)
    root = _b(vector["root"])
    for case in vector["cases"]:
        item, proof = _b(case["item"]), [_b(s) for s in case["proof"]]
        if case["valid"]:
            verify_inclusion(root, item, proof)
        else:
            with pytest.raises(RootMismatch) as caught:
                verify_inclusion(root, item, proof)
            assert caught.value.expected == root and caught.value.calculated != root, case["broken"]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_any_changed_byte_in_any_valid_proof_fails(path: Path) -> None:
    vector = _load(path)
    root = _b(vector["root"])
    for case in (c for c in vector["cases"] if c["valid"]):
        proof = [_b(s) for s in case["proof"]]
        for n, sibling in enumerate(proof):
            for position in range(32):
                changed = bytearray(sibling)
                changed[position] ^= 0x80
                broken = proof[:n] + [bytes(changed)] + proof[n + 1 :]
                with pytest.raises(RootMismatch):
                    verify_inclusion(root, _b(case["item"]), broken)


def test_mismatch_reports_expected_and_calculated_roots() -> None:
    tree = MerkleTree.from_items([b"a", b"b", b"c"])
    with pytest.raises(RootMismatch) as caught:
        verify_inclusion(tree.root, b"z", tree.proof(0))
    assert caught.value.expected == tree.root
    assert caught.value.calculated == root_from_proof(leaf_hash(b"z"), tree.proof(0))
    assert tree.root.hex() in str(caught.value)


def test_sibling_of_the_wrong_length_is_reported_by_position() -> None:
    tree = MerkleTree.from_items([b"a", b"b", b"c", b"d"])
    proof = tree.proof(0)
    with pytest.raises(InvalidProof) as caught:
        verify_inclusion(tree.root, b"a", [proof[0], proof[1][:31]])
    assert caught.value.index == 1


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == node_hash(b, a)
    assert leaf_hash(a + b) != node_hash(a, b)


def test_empty_tree_and_bad_index_are_refused() -> None:
    with pytest.raises(ValueError):
        MerkleTree.from_items([])
    with pytest.raises(IndexError):
        MerkleTree.from_items([b"x"]).proof(1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=70))
def test_build_prove_verify_round_trip_matches_the_reference(items: list[bytes]) -> None:
    tree = MerkleTree.from_items(items)
    assert tree.root == ref.root(items)
    assert tree.leaf_count == len(items)
    for index, (item, proof) in enumerate(zip(items, tree.proofs())):
        assert proof == ref.proof(items, index)
        verify_inclusion(tree.root, item, proof)
    assert [unfold(path) for path in tree.all_proofs()] == list(tree.proofs())
