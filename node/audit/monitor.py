"""Watching uses while they happen: a live stream of usage events and alert rules over it.

Both follow the index of the chain by ``chain_events.id``, which grows in chain order, so they
work in any process that can read the node's database. The rules live in ``alert_rules`` (one
row per kind, tunable per node); each alert has a key, so a sighting seen twice (after a
restart or a reorg replays events) is one alert:

- ``expired_attempt``: a use refused because its grant had expired;
- ``refused``: any other refused use, once per grant and reason; an attempt by a caller who
  may not use the grant at all, once per grant and caller, naming the caller (``consumer`` is
  whoever the index files the event under: ``node.chain.attribution``);
- ``refused_query``: a query the owner's node refused (recorded on chain as ``QueryRefused``),
  once per grant, consumer and reason; an attempt to read rows or an identifying field is
  ``high`` (someone tried to single people out), the others (ε over the cap, budget or quota
  spent, no terms) are ``warning``;
- ``quota``: a grant's uses reach ``threshold`` (a share, 0.8) of its quota;
- ``burst``: more than ``threshold`` uses of one grant within ``window_seconds``;
- ``stale``: a dataset of ours without a new version for ``threshold`` times its expected
  update interval.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from itertools import accumulate
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger.clients import Action, QueryRefusal, Refusal, query_refusal_words
from node.chain.attribution import callers_attempt
from node.models import Alert, AlertRule, ChainEventRow, Dataset, DatasetVersion, Grant, Use, Watermark

USE_EVENTS = ("UseRecorded", "UseRefused")
WATCHED = (*USE_EVENTS, "QueryRefused")
"""What the alert rules look at: the uses, and the queries refused before they became one."""
PROBES = (QueryRefusal.SQL_NOT_ALLOWED, QueryRefusal.IDENTIFYING_FIELD)
"""Query refusals that mean someone asked for rows or for what identifies a person."""
WATERMARK = "monitor"


@dataclass(frozen=True)
class UsageEvent:
    """One use as the stream tells it: recorded with its sequence, or refused with the reason."""

    id: int
    grant_id: str
    dataset_id: str | None
    consumer: str | None
    actor: str
    action: str
    evidence_hash: str
    sequence: int | None
    refused: str | None
    block_number: int
    block_time: int | None
    tx_hash: str

    @classmethod
    def of(cls, row: ChainEventRow) -> UsageEvent:
        a = row.args
        refused = Refusal(a["reason"]).name.lower() if row.name == "UseRefused" else None
        return cls(row.id, a["grantId"], row.dataset_id, row.consumer, a["actor"], Action(a["action"]).name.lower(),
                   a["evidenceHash"], a.get("sequence"), refused, row.block_number, row.block_time, row.tx_hash)


def _use_rows(session: Session, after: int, limit: int, dataset_id: str | None = None,
              consumer: str | None = None, names: Sequence[str] = USE_EVENTS) -> list[ChainEventRow]:
    query = select(ChainEventRow).where(ChainEventRow.id > after, ChainEventRow.name.in_(names))
    if dataset_id is not None:
        query = query.where(ChainEventRow.dataset_id == dataset_id)
    if consumer is not None:
        query = query.where(ChainEventRow.consumer == consumer)
    return list(session.scalars(query.order_by(ChainEventRow.id).limit(limit)))


def use_events(session: Session, after: int = 0, limit: int = 100, *, dataset_id: str | None = None,
               consumer: str | None = None) -> list[UsageEvent]:
    """Indexed uses after event id ``after``, oldest first, for one dataset or consumer if given."""
    return [UsageEvent.of(row) for row in _use_rows(session, after, limit, dataset_id, consumer)]


async def usage_stream(sessions: sessionmaker[Session], *, after: int | None = None, dataset_id: str | None = None,
                       consumer: str | None = None, poll: float = 0.5) -> AsyncIterator[UsageEvent]:
    """Every use indexed after event id ``after`` (default: from now on), as it is indexed;
    never ends by itself. The database is read in a worker thread, off the event loop."""

    def read(since: int) -> list[ChainEventRow]:
        with sessions() as session:
            return _use_rows(session, since, 500, dataset_id, consumer)

    def newest() -> int:
        with sessions() as session:
            return session.scalar(select(func.max(ChainEventRow.id))) or 0

    position = after if after is not None else await asyncio.to_thread(newest)
    while True:
        rows = await asyncio.to_thread(read, position)
        for row in rows:
            position = row.id
            yield UsageEvent.of(row)
        if not rows:
            await asyncio.sleep(poll)


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True)
class Sighting:
    key: str
    kind: str
    severity: str
    message: str
    dataset_id: str | None = None
    grant_id: str | None = None
    consumer: str | None = None
    event_id: int | None = None
    block_number: int | None = None


Rule = Callable[[Session, AlertRule, Sequence[ChainEventRow]], Iterator[Sighting]]
"""A rule over one step's rows, in chain order: what it needs from SQL it reads once per step."""


def _on(row: ChainEventRow, key: str, kind: str, severity: str, message: str) -> Sighting:
    return Sighting(key, kind, severity, message, row.dataset_id, row.args["grantId"], row.consumer, row.id,
                    row.block_number)


def _expired_attempt(session: Session, rule: AlertRule, rows: Sequence[ChainEventRow]) -> Iterator[Sighting]:
    for row in rows:
        if row.name == "UseRefused" and row.args["reason"] == Refusal.EXPIRED:
            grant = row.args["grantId"]
            yield _on(row, f"expired_attempt:{grant}:{row.tx_hash}:{row.log_index}", "expired_attempt", "high",
                      f"a use of grant {grant} was attempted after the grant expired")


def _refused(session: Session, rule: AlertRule, rows: Sequence[ChainEventRow]) -> Iterator[Sighting]:
    for row in rows:
        if row.name != "UseRefused" or row.args["reason"] == Refusal.EXPIRED:
            continue
        grant, reason = row.args["grantId"], Refusal(row.args["reason"]).name.lower()
        if callers_attempt(row.name, row.args):
            # The caller's own attempt (``row.consumer`` is the caller): one alert per caller, so a
            # second intruder on the same grant is named too, and the grantee never is.
            actor = row.args["actor"]
            yield _on(row, f"refused:{grant}:{reason}:{actor}", "refused", "high",
                      f"{actor} attempted a use of grant {grant}, which it may not use: refused on-chain ({reason})")
            continue
        yield _on(row, f"refused:{grant}:{reason}", "refused", "warning",
                  f"a use of grant {grant} was refused on-chain: {reason}")


def _refused_query(session: Session, rule: AlertRule, rows: Sequence[ChainEventRow]) -> Iterator[Sighting]:
    for row in rows:
        if row.name != "QueryRefused":
            continue
        grant, consumer, reason = row.args["grantId"], row.args["consumer"], int(row.args["reason"])
        probe = reason in PROBES
        # A code this node does not know yet (a newer contract) is alerted too, as its number.
        yield _on(row, f"refused_query:{grant}:{consumer}:{reason}", "refused_query", "high" if probe else "warning",
                  f"{consumer} asked grant {grant} for a query refused before it ran: {query_refusal_words(reason)}"
                  + ("; an attempt to read rows or what identifies a person" if probe else ""))


def _recorded(rows: Sequence[ChainEventRow]) -> dict[str, list[ChainEventRow]]:
    """The step's recorded uses by grant, in chain order."""
    by_grant: dict[str, list[ChainEventRow]] = {}
    for row in rows:
        if row.name == "UseRecorded":
            by_grant.setdefault(row.args["grantId"], []).append(row)
    return by_grant


def _quota(session: Session, rule: AlertRule, rows: Sequence[ChainEventRow]) -> Iterator[Sighting]:
    by_grant = _recorded(rows)
    grants = session.scalars(select(Grant).where(Grant.grant_id.in_(by_grant))).all() if by_grant else []
    for grant in grants:
        if not grant.max_uses:
            continue
        # Sequences grow along the chain: the first use at the threshold is the one to name.
        share = rule.threshold * grant.max_uses
        reached = next((r for r in by_grant[grant.grant_id] if int(r.args["sequence"]) >= share), None)
        if reached is not None:
            yield _on(reached, f"quota:{grant.grant_id}", "quota", "warning",
                      f"grant {grant.grant_id} has spent {reached.args['sequence']} of {grant.max_uses} uses "
                      f"({rule.threshold:.0%} reached)")


def _burst(session: Session, rule: AlertRule, rows: Sequence[ChainEventRow]) -> Iterator[Sighting]:
    """More than ``threshold`` uses of one grant within ``window_seconds`` up to a use (the uses of
    its own block included). Counted from the index per block, once per grant per step: a block's
    time never falls behind its parent's, so the uses within the window are a run of blocks."""
    if rule.window_seconds <= 0:
        return
    for grant, recorded in _recorded(rows).items():
        timed = [(r, r.block_time) for r in recorded if r.block_time is not None]
        if not timed:
            continue
        blocks = session.execute(
            select(Use.block_number, func.max(Use.block_time), func.count())
            .where(Use.grant_id == grant, Use.refused.is_(None),
                   Use.block_time > min(t for _, t in timed) - rule.window_seconds,
                   Use.block_number <= timed[-1][0].block_number)
            .group_by(Use.block_number).order_by(Use.block_number)).all()
        numbers = [number for number, _, _ in blocks]
        times = [int(at or 0) for _, at, _ in blocks]
        totals = [0, *accumulate(count for _, _, count in blocks)]
        named: set[int] = set()
        for row, at in timed:
            bucket = at // rule.window_seconds
            count = totals[bisect_right(numbers, row.block_number)] - totals[bisect_right(times, at - rule.window_seconds)]
            if count > rule.threshold and bucket not in named:
                named.add(bucket)
                yield _on(row, f"burst:{grant}:{bucket}", "burst", "warning",
                          f"grant {grant}: {count} uses within {rule.window_seconds} s, more than {rule.threshold:g}")


EVENT_RULES: dict[str, Rule] = {
    "expired_attempt": _expired_attempt,
    "refused": _refused,
    "refused_query": _refused_query,
    "quota": _quota,
    "burst": _burst,
}


class Monitor:
    """Applies the alert rules to the events indexed since it last looked, and to our datasets."""

    def __init__(self, sessions: sessionmaker[Session], *, batch: int = 2000) -> None:
        self.sessions = sessions
        self.batch = batch
        self.seen = 0
        """The indexed events the last step looked at: its loop goes on at once while there were any."""

    def step(self, now: float | None = None) -> list[Alert]:
        """Look at the next batch of indexed uses (and dataset freshness); returns new alerts."""
        with self.sessions() as session:
            rules = {r.kind: r for r in session.scalars(select(AlertRule).where(AlertRule.enabled))}
            mark = session.get(Watermark, WATERMARK) or Watermark(name=WATERMARK, value=0)
            rows = _use_rows(session, mark.value, self.batch, names=WATCHED)
            self.seen = len(rows)
            sightings = [s for kind, rule in rules.items() if kind in EVENT_RULES
                         for s in EVENT_RULES[kind](session, rule, rows)]
            if "stale" in rules:
                sightings += _stale(session, rules["stale"], time.time() if now is None else now)
            if rows:
                mark.value = rows[-1].id
                session.merge(mark)
            alerts = _raise(session, sightings)
            session.commit()
            return alerts

    def run_until_current(self, now: float | None = None) -> list[Alert]:
        raised: list[Alert] = []
        while True:
            with self.sessions() as session:
                mark = session.get(Watermark, WATERMARK)
                behind = bool(_use_rows(session, mark.value if mark else 0, 1, names=WATCHED))
            raised += self.step(now)
            if not behind:
                return raised


def _stale(session: Session, rule: AlertRule, now: float) -> list[Sighting]:
    latest = (select(DatasetVersion.dataset_id, func.max(DatasetVersion.number).label("number"),
                     func.max(DatasetVersion.created_at).label("at"))
              .group_by(DatasetVersion.dataset_id).subquery())
    rows = session.execute(select(Dataset, latest.c.number, latest.c.at)
                           .join(latest, latest.c.dataset_id == Dataset.dataset_id)
                           .where(Dataset.update_interval > 0)).all()
    found = []
    for dataset, number, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        age = now - at.timestamp()
        if age > rule.threshold * dataset.update_interval:
            found.append(Sighting(
                f"stale:{dataset.dataset_id}:{number}", "stale", "warning",
                f"dataset {dataset.name} has had no new version for {age / 3600:.1f} h; "
                f"one is expected every {dataset.update_interval / 3600:.1f} h",
                dataset_id=dataset.dataset_id))
    return found


def _raise(session: Session, sightings: list[Sighting]) -> list[Alert]:
    """Store the sightings not seen before, each as one alert."""
    keys = {s.key for s in sightings}
    known = set(session.scalars(select(Alert.key).where(Alert.key.in_(keys)))) if keys else set()
    alerts = []
    for s in sightings:
        if s.key in known:
            continue
        known.add(s.key)
        alert = Alert(key=s.key, kind=s.kind, severity=s.severity, message=s.message, dataset_id=s.dataset_id,
                      grant_id=s.grant_id, consumer=s.consumer, event_id=s.event_id, block_number=s.block_number)
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:  # another monitor raised it a moment ago
            continue
        alerts.append(alert)
    return alerts
