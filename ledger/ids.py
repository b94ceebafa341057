"""The ids the contracts derive from their creator, computed off-chain the same way.

Nothing that identifies a record on chain is chosen freely by its caller: the caller picks a
key of its own (a dataset code, a request key, an issue code) and the contract combines it with
who the caller is, so nobody can occupy another party's id. Each function here mirrors one
derivation in the contracts (``datasetIdOf``, ``grantIdOf``, ``issueIdOf``, ``fieldsHash``) and
is checked against them in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import encode
from eth_utils.address import to_canonical_address
from eth_utils.crypto import keccak


def key_of(text: str) -> bytes:
    """A bytes32 key for a free-text code of any length: its keccak-256 over UTF-8."""
    if not text:
        raise ValueError("a code must not be empty")
    return keccak(text.encode())


def text_hash(text: str) -> bytes:
    """The hash the contracts take of a text: keccak256 of its UTF-8 bytes (``DataRegistry``'s catalog
    texts, ``AnchorRegistry.publishText``, a grant's ``purposeHash``)."""
    return keccak(text.encode())


def dataset_id(department: bytes, code: bytes) -> bytes:
    """``DataRegistry.datasetIdOf``: keccak256(abi.encode(ownerDepartment, code))."""
    return keccak(encode(["bytes32", "bytes32"], [department, code]))


def grant_id(grantee: str, request_key: bytes) -> bytes:
    """``AccessGrants.grantIdOf``: keccak256(abi.encode(grantee, requestKey))."""
    return keccak(encode(["address", "bytes32"], [to_canonical_address(grantee), request_key]))


def issue_id(opener: str, code: bytes) -> bytes:
    """``QualityBoard.issueIdOf``: keccak256(abi.encode(opener, code))."""
    return keccak(encode(["address", "bytes32"], [to_canonical_address(opener), code]))


def fields_hash(fields: Sequence[str]) -> bytes:
    """The hash a grant keeps of the field names it leaves in the clear: keccak256(abi.encode(fields))."""
    return keccak(encode(["string[]"], [list(fields)]))


def canonical_fields(fields: Sequence[str]) -> list[str]:
    """Field names as a grant names them: each once, in code-point order."""
    names = sorted(set(fields))
    for name in names:
        if not name or len(name.encode()) > 64:
            raise ValueError(f"field name {name!r} must be 1 to 64 bytes")
    if len(names) > 64:
        raise ValueError("a grant names at most 64 fields")
    return names
