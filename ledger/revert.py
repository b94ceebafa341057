"""Turn revert data into the custom error it encodes, by name and with decoded arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from ledger.errors import ContractError, TransactionReverted

_ERROR_STRING = bytes.fromhex("08c379a0")


def _canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


class ErrorDecoder:
    """Knows every custom error of a set of ABIs by its 4-byte selector."""

    def __init__(self) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str], str]] = {}

    def add_abi(self, contract: str, abi: Iterable[dict[str, Any]]) -> ErrorDecoder:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(p) for p in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            names = [p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"])]
            self._errors.setdefault(selector, (item["name"], types, names, contract))
        return self

    def decode(self, data: bytes | str) -> ContractError | None:
        """The error encoded in ``data``, or None if no known error matches."""
        raw = bytes(HexBytes(data))
        if len(raw) < 4:
            return None
        if raw[:4] == _ERROR_STRING:
            (message,) = decode(["string"], raw[4:])
            return ContractError("Error", {"message": message})
        known = self._errors.get(raw[:4])
        if known is None:
            return None
        name, types, names, contract = known
        values = decode(types, raw[4:])
        return ContractError(name, dict(zip(names, values)), contract)

    def from_web3(self, err: Exception, tx_hash: str = "") -> Exception:
        """The ledger exception for a web3 call failure; others come back unchanged."""
        if isinstance(err, ContractCustomError):
            data = err.data if isinstance(err.data, str) else ""
            return self.decode(data) or TransactionReverted(tx_hash, f"unknown custom error {data[:10]}")
        if isinstance(err, ContractPanicError):
            return TransactionReverted(tx_hash, str(err))
        if isinstance(err, ContractLogicError):
            return TransactionReverted(tx_hash, err.message or str(err))
        return err
