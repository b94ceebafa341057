"""An event as the indexer files it: its arguments as JSON and where it belongs, before it is a
row of ``chain_events`` (the indexer inserts a step's rows at once, the projections read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from ledger.events import ChainEvent
from node.chain.attribution import CONSUMER_FIELDS, GrantTerms, place
from node.models import ChainEventRow


def to_json(value: Any) -> Any:
    """Event arguments as JSON: bytes as 0x hex, big numbers as strings, tuples as lists."""
    kind = type(value)
    if kind is bytes or kind is HexBytes or kind is bytearray:
        return "0x" + value.hex()
    if kind is str or kind is bool:
        return value
    if kind is int:
        return value if -(2**53) < value < 2**53 else str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else str(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def needs_grant(args: dict[str, Any]) -> bool:
    """Whether an event with ``args`` is filed by its grant's terms: it names a grant, and not
    both its dataset and its consumer itself."""
    return "grantId" in args and not ("datasetId" in args and any(k in args for k in CONSUMER_FIELDS))


@dataclass(slots=True)
class IndexedEvent:
    """The columns of one ``chain_events`` row but its id."""

    block_number: int
    block_hash: str
    block_time: int | None
    tx_hash: str
    log_index: int
    contract: str
    name: str
    args: dict[str, Any]
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None

    @classmethod
    def filed(cls, event: ChainEvent, args: dict[str, Any], block_time: int | None,
              grant: GrantTerms | None) -> IndexedEvent:
        """``event`` (its ``args`` as :func:`to_json` gives them) filed where
        ``node.chain.attribution.place`` says; ``grant`` is the event's grant as indexed before
        it, for events that name only a grant."""
        where = place(event.name, args, grant)
        return cls(event.block_number, event.block_hash.to_0x_hex(), block_time, event.tx_hash.to_0x_hex(),
                   event.log_index, event.contract, event.name, args, where.dataset_id, where.grant_id, where.consumer)

    @classmethod
    def of(cls, row: ChainEventRow) -> IndexedEvent:
        return cls(row.block_number, row.block_hash, row.block_time, row.tx_hash, row.log_index, row.contract,
                   row.name, row.args, row.dataset_id, row.grant_id, row.consumer)

    def values(self) -> dict[str, Any]:
        """The row's columns by name, to insert."""
        return {"block_number": self.block_number, "block_hash": self.block_hash, "block_time": self.block_time,
                "tx_hash": self.tx_hash, "log_index": self.log_index, "contract": self.contract, "name": self.name,
                "args": self.args, "dataset_id": self.dataset_id, "grant_id": self.grant_id,
                "consumer": self.consumer}
