"""What the catalog, review and monitor pages show, read from the node's SQL index."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.clients import Action
from node.access.queue import QueueItem, review_queue
from ledger.deploy import Ledger
from node.models import Alert, ChainEventRow, Dataset, OutboxEntry
from node.audit.monitor import USE_EVENTS, UsageEvent

# ---------------------------------------------------------------- durations


def duration(seconds: float) -> str:
    """A short human duration: ``45 s``, ``12 min``, ``3 h``, ``2 d``."""
    seconds = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}" if seconds < 10 * size else f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _epoch(moment: datetime) -> float:
    # SQLite gives back naive datetimes for timezone-aware columns; the node writes UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


# ---------------------------------------------------------------- catalog

State = Literal["fresh", "stale", "unscheduled", "empty"]


@dataclass(frozen=True)
class Freshness:
    """How long since the last version, against the update interval the owner declared."""

    state: State
    age: float | None
    interval: int

    @property
    def share(self) -> float:
        """The share of the interval already gone (1 and above: overdue)."""
        return 0.0 if self.age is None or not self.interval else self.age / self.interval

    @property
    def label(self) -> str:
        if self.age is None:
            return "no version yet"
        ago = f"updated {duration(self.age)} ago"
        if not self.interval:
            return f"{ago}; no update interval"
        due = self.interval - self.age
        return f"{ago}; expected every {duration(self.interval)}, " + (
            f"next due in {duration(due)}" if due >= 0 else f"overdue by {duration(due)}")


def freshness(dataset: Dataset, now: float) -> Freshness:
    if not dataset.versions:
        return Freshness("empty", None, dataset.update_interval)
    age = max(0.0, now - _epoch(dataset.versions[-1].created_at))
    if not dataset.update_interval:
        return Freshness("unscheduled", age, 0)
    return Freshness("fresh" if age <= dataset.update_interval else "stale", age, dataset.update_interval)


@dataclass(frozen=True)
class CatalogRow:
    dataset: Dataset
    latest: int | None
    freshness: Freshness


def catalog(db: Session, *, q: str = "", grade: int | None = None, owner: str = "",
            now: float | None = None) -> list[CatalogRow]:
    """The node's datasets matching a search in the name, category or description, a grade and an owner."""
    now = time.time() if now is None else now
    query = select(Dataset).order_by(Dataset.name, Dataset.dataset_id)
    if grade is not None:
        query = query.where(Dataset.grade == grade)
    if owner:
        query = query.where(Dataset.owner_department == owner)
    needle = q.strip().casefold()
    rows = []
    for dataset in db.scalars(query):
        text = " ".join([dataset.name, dataset.category, str(dataset.catalog.get("description", ""))]).casefold()
        if needle and needle not in text:
            continue
        rows.append(CatalogRow(dataset, dataset.versions[-1].number if dataset.versions else None,
                               freshness(dataset, now)))
    return rows


def owners(db: Session) -> list[str]:
    return list(db.scalars(select(Dataset.owner_department).distinct().order_by(Dataset.owner_department)))


# ---------------------------------------------------------------- review

DECISIONS = {"approve": "approval", "reject": "rejection", "co_approve": "co-approval"}
"""What each decision queued in the outbox is called."""


@dataclass(frozen=True)
class QueueRow:
    item: QueueItem
    actions: list[str]
    queued: OutboxEntry | None
    """A decision on it already sent to the chain."""


def _bits(mask: int, names: list[str]) -> list[str]:
    return [name for i, name in enumerate(names) if mask >> i & 1]


def review_rows(db: Session, ledger: Ledger, department: str, *, coordinator: bool) -> list[QueueRow]:
    items = review_queue(db, ledger, department, coordinator=coordinator)
    keys = [f"{kind}:{item.grant_id}" for item in items for kind in ("approve", "reject", "co_approve")]
    queued = {entry.key.split(":", 1)[1]: entry
              for entry in db.scalars(select(OutboxEntry).where(OutboxEntry.key.in_(keys)).order_by(OutboxEntry.id))}
    rows = []
    for item in items:
        rows.append(QueueRow(item, _bits(item.actions, [a.name.lower() for a in Action]), queued.get(item.grant_id)))
    return rows


# ---------------------------------------------------------------- monitor


def recent_uses(db: Session, *, consumer: str | None, limit: int = 50) -> list[UsageEvent]:
    """The newest uses first (a consumer's own only, if given)."""
    query = select(ChainEventRow).where(ChainEventRow.name.in_(USE_EVENTS))
    if consumer is not None:
        query = query.where(ChainEventRow.consumer == consumer)
    return [UsageEvent.of(row) for row in db.scalars(query.order_by(ChainEventRow.id.desc()).limit(limit))]


def recent_alerts(db: Session, limit: int = 100) -> list[Alert]:
    return list(db.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit)))
