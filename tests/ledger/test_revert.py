"""Every custom error of every contract decodes to its name and arguments."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from ledger.compile import ContractArtifact
from ledger.deploy import SUITE
from ledger.revert import ErrorDecoder

SAMPLES: dict[str, Any] = {
    "address": "0x00000000000000000000000000000000deadbeef",
    "bytes32": b"\x11" * 32,
    "bool": True,
    "string": "reason",
}


def _sample(kind: str, position: int) -> Any:
    if kind in SAMPLES:
        return SAMPLES[kind]
    if kind.startswith("uint"):
        return 7 + position
    if kind.startswith("int"):
        return -3 - position
    raise AssertionError(f"add a sample for {kind}")


def _errors(artifacts: dict[str, ContractArtifact]) -> list[tuple[str, dict[str, Any]]]:
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in SUITE:
        for item in artifacts[name].abi:
            if item["type"] == "error":
                seen.setdefault(item["name"], (name, item))
    return list(seen.values())


def test_every_contract_error_decodes_with_named_arguments(artifacts: dict[str, ContractArtifact]) -> None:
    decoder = ErrorDecoder()
    for name in SUITE:
        decoder.add_abi(name, artifacts[name].abi)
    errors = _errors(artifacts)
    assert len(errors) >= 50
    for contract, abi in errors:
        types = [p["type"] for p in abi["inputs"]]
        values = [_sample(t, i) for i, t in enumerate(types)]
        data = function_signature_to_4byte_selector(f"{abi['name']}({','.join(types)})") + encode(types, values)
        decoded = decoder.decode(data)
        assert decoded is not None, abi["name"]
        assert decoded.name == abi["name"]
        expected = [v.lower() if isinstance(v, str) and v.startswith("0x") else v for v in values]
        got = [v.lower() if isinstance(v, str) and v.startswith("0x") else v for v in decoded.arguments.values()]
        assert got == expected, abi["name"]
        assert list(decoded.arguments) == [p["name"] for p in abi["inputs"]]
        assert abi["name"] in str(decoded)


def test_require_strings_and_unknown_selectors() -> None:
    decoder = ErrorDecoder()
    message = bytes.fromhex("08c379a0") + encode(["string"], ["nope"])
    decoded = decoder.decode(message)
    assert decoded is not None and decoded.name == "Error" and decoded.arguments == {"message": "nope"}
    assert decoder.decode(b"\x01\x02\x03\x04") is None
    assert decoder.decode(b"") is None


@pytest.mark.parametrize("kind", ["uint8", "uint256", "bytes32", "address"])
def test_samples_cover_the_argument_types_used(kind: str) -> None:
    assert _sample(kind, 0) is not None
