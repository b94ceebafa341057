"""An event as the indexer files it: its arguments as JSON and where it belongs, before it is a
row of ``chain_events`` (the indexer inserts a step's rows at once, the projections read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.events import LogRecord
from node.chain.attribution import CONSUMER_FIELDS, GrantTerms, Placement, place
from node.models import ChainEventRow


def needs_grant(args: dict[str, Any]) -> bool:
    """Whether an event with ``args`` is filed by its grant's terms: it names a grant, and not
    both its dataset and its consumer itself."""
    return "grantId" in args and not ("datasetId" in args and any(k in args for k in CONSUMER_FIELDS))


@dataclass(slots=True)
class IndexedEvent:
    """A ``chain_events`` row but its id: the log, its block's time and where it is filed."""

    log: LogRecord
    block_time: int | None
    where: Placement

    @classmethod
    def filed(cls, log: LogRecord, block_time: int | None, grant: GrantTerms | None) -> IndexedEvent:
        """``log`` filed where ``node.chain.attribution.place`` says; ``grant`` is the event's
        grant as indexed before it, for events that name only a grant."""
        return cls(log, block_time, place(log.name, log.args, grant))

    @classmethod
    def of(cls, row: ChainEventRow) -> IndexedEvent:
        log = LogRecord(row.contract, row.name, row.args, row.block_number, row.block_hash, row.tx_hash, row.log_index)
        return cls(log, row.block_time, Placement(row.dataset_id, row.grant_id, row.consumer))

    @property
    def name(self) -> str:
        return self.log.name

    @property
    def args(self) -> dict[str, Any]:
        return self.log.args

    @property
    def block_number(self) -> int:
        return self.log.block_number

    @property
    def log_index(self) -> int:
        return self.log.log_index

    @property
    def tx_hash(self) -> str:
        return self.log.tx_hash

    @property
    def dataset_id(self) -> str | None:
        return self.where.dataset_id

    @property
    def grant_id(self) -> str | None:
        return self.where.grant_id

    def values(self) -> dict[str, Any]:
        """The row's columns by name, to insert."""
        log, where = self.log, self.where
        return {"block_number": log.block_number, "block_hash": log.block_hash, "block_time": self.block_time,
                "tx_hash": log.tx_hash, "log_index": log.log_index, "contract": log.contract, "name": log.name,
                "args": log.args, "dataset_id": where.dataset_id, "grant_id": where.grant_id,
                "consumer": where.consumer}
