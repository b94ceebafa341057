"""What the review and monitor pages show, read from the node's SQL index (the catalog page reads
:mod:`node.catalog.entries` itself)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.clients import Action
from ledger.deploy import Ledger
from node.access.queue import QueueItem, review_queue
from node.models import Alert, ChainEventRow, OutboxEntry
from node.audit.monitor import USE_EVENTS, UsageEvent


# ---------------------------------------------------------------- review

DECISIONS = {"approve": "approval", "reject": "rejection", "co_approve": "co-approval"}
"""What each decision queued in the outbox is called."""


@dataclass(frozen=True)
class QueueRow:
    item: QueueItem
    actions: list[str]
    queued: OutboxEntry | None
    """A decision on it already sent to the chain."""


def review_rows(db: Session, ledger: Ledger, department: str, *, coordinator: bool) -> list[QueueRow]:
    items = review_queue(db, ledger, department, coordinator=coordinator)
    keys = [f"{kind}:{item.grant_id}" for item in items for kind in ("approve", "reject", "co_approve")]
    queued = {entry.key.split(":", 1)[1]: entry
              for entry in db.scalars(select(OutboxEntry).where(OutboxEntry.key.in_(keys)).order_by(OutboxEntry.id))}
    rows = []
    for item in items:
        rows.append(QueueRow(item, Action.names(item.actions), queued.get(item.grant_id)))
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
