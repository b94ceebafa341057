"""The exceptions of ``ledger``: one root, leaves built from typed arguments."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error raised by ``ledger``."""


# ---------------------------------------------------------------- compiling


class CompilationFailed(LedgerError):
    """The Solidity compiler refused the sources."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("compilation failed:\n" + "\n".join(messages))


# ---------------------------------------------------------------- chains


class ChainUnavailable(LedgerError, ConnectionError):
    """No EVM JSON-RPC endpoint answers at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"no chain answers at {url}")


class ChainReadFailed(LedgerError):
    """The chain node answered, but a read of ``what`` with an error or nothing: ``reason``."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"the chain node could not give {what}: {reason}")


class BlockMissing(ChainReadFailed):
    """The chain node does not give block ``number``: it does not have it (yet, or any more), or
    it failed to read it (``reason``)."""

    def __init__(self, number: int, reason: str = "missing") -> None:
        self.number = number
        super().__init__(f"block {number}", reason)


class ChainStartFailed(LedgerError, RuntimeError):
    """A local chain process could not be started."""

    def __init__(self, program: str, reason: str) -> None:
        self.program = program
        self.reason = reason
        super().__init__(f"{program} did not start: {reason}")


# ---------------------------------------------------------------- Merkle proofs


class RootMismatch(LedgerError, ValueError):
    """A proof leads to ``calculated`` where ``expected`` was anchored."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        self.expected = expected
        self.calculated = calculated
        super().__init__(f"root mismatch: expected 0x{expected.hex()}, calculated 0x{calculated.hex()}")


class InvalidProof(LedgerError, ValueError):
    """Node ``index`` of a proof is malformed."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"proof node {index}: {reason}")


# ---------------------------------------------------------------- transactions


class ContractError(LedgerError):
    """A contract call reverted with the custom error ``name`` and its decoded ``arguments``."""

    def __init__(self, name: str, arguments: dict[str, Any], contract: str | None = None) -> None:
        self.name = name
        self.arguments = arguments
        self.contract = contract
        shown = ", ".join(f"{k}={_show(v)}" for k, v in arguments.items())
        where = f"{contract}: " if contract else ""
        super().__init__(f"{where}{name}({shown})")


class TransactionReverted(LedgerError):
    """A transaction was mined but reverted without a decodable reason."""

    def __init__(self, tx_hash: str, reason: str = "") -> None:
        self.tx_hash = tx_hash
        self.reason = reason
        super().__init__(f"transaction {tx_hash} reverted{': ' + reason if reason else ''}")


class TransactionTimeout(LedgerError, TimeoutError):
    """No receipt for ``tx_hash`` within ``seconds``."""

    def __init__(self, tx_hash: str, seconds: float) -> None:
        self.tx_hash = tx_hash
        self.seconds = seconds
        super().__init__(f"no receipt for {tx_hash} after {seconds:.0f} s")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


# ---------------------------------------------------------------- deployments


class ManifestMismatch(LedgerError):
    """A deployment manifest does not match ``contract``'s compiled artifact or the chain."""

    def __init__(self, contract: str, reason: str) -> None:
        self.contract = contract
        self.reason = reason
        super().__init__(f"manifest mismatch for {contract}: {reason}")
