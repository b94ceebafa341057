"""An event as the indexer files it: its arguments as JSON and where it belongs, before it is a
row of ``chain_events`` (the indexer inserts a step's rows at once, the projections read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.events import LogRecord
from node.chain.attribution import CONSUMER_FIELDS, GrantTerms, place
from node.models import ChainEventRow


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
    def filed(cls, log: LogRecord, block_time: int | None, grant: GrantTerms | None) -> IndexedEvent:
        """``log`` filed where ``node.chain.attribution.place`` says; ``grant`` is the event's
        grant as indexed before it, for events that name only a grant."""
        where = place(log.name, log.args, grant)
        return cls(log.block_number, log.block_hash, block_time, log.tx_hash, log.log_index, log.contract, log.name,
                   log.args, where.dataset_id, where.grant_id, where.consumer)

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
