"""What the consortium bench watches in the owner's node while uses load the chain: when each
block's uses become rows of its index, and when each over-quota refusal becomes an alert.

A :class:`Watch` polls the node's database from a thread of its own, as any reader of the index
would (the API, the dashboard), and stamps what it sees with the wall clock, to compare with the
chain's block timestamps (Clique seals a block at its timestamp, to the second)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from node.chain.outbox import backlog
from node.models import Alert
from node.models import Use as UseRow
from scripts.bench_figures import percentile


@dataclass
class Watch:
    """Polls ``sessions`` every ``interval`` seconds until stopped."""

    sessions: sessionmaker[Session]
    refusal_grants: set[str]
    interval: float = 0.2
    sightings: list[tuple[int, int, int, float]] = field(default_factory=list)
    """(block number, its timestamp, uses of it newly seen, wall time they were seen), a poll's
    new rows of a block at a time."""
    alerts: dict[str, float] = field(default_factory=dict)
    """Refused grant -> wall time its alert row was written (``alerts.created_at``)."""
    backlog: list[tuple[float, int]] = field(default_factory=list)
    """(wall time, writes open in the outbox): what the outbox had not yet seen confirmed."""
    _last_id: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Watch:
        with self.sessions() as session:
            self._last_id = session.scalar(select(func.max(UseRow.id))) or 0
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        with self.sessions() as session:
            now = time.time()
            self.backlog.append((now, backlog(session).open))
            rows = session.execute(
                select(UseRow.block_number, func.min(UseRow.block_time), func.count(), func.max(UseRow.id))
                .where(UseRow.id > self._last_id).group_by(UseRow.block_number)).all()
            for block, block_time, count, last in rows:
                self.sightings.append((block, block_time or 0, count, now))
                self._last_id = max(self._last_id, last)
            missing = self.refusal_grants - set(self.alerts)
            if missing:
                for grant, created in session.execute(select(Alert.grant_id, Alert.created_at).where(
                        Alert.kind == "refused", Alert.grant_id.in_(missing))).all():
                    if grant is not None:
                        self.alerts[grant] = _epoch(created)

    def lag_per_use(self) -> list[float]:
        """For every use seen, seconds from its block's timestamp to its row first seen."""
        return [seen - block_time for _, block_time, count, seen in self.sightings for _ in range(count)]

    @property
    def uses_seen(self) -> int:
        return sum(count for _, _, count, _ in self.sightings)


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def quantiles(samples: list[float]) -> dict[str, float]:
    return {"p50": percentile(samples, 50), "p95": percentile(samples, 95), "max": max(samples, default=float("nan")),
            "count": len(samples)}
