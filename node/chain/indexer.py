"""The indexer: follows the contracts' events into SQL from a stored cursor.

It indexes only blocks ``confirmations`` deep, records the hash of each block it took events
from and of the block it stopped at, and before every step checks that the chain still has
that block: if not, a reorg undid part of what was indexed, so it walks back to the newest
block both agree on, deletes everything above it and indexes again from there. Each step is
one SQL transaction, so a restart at any point resumes from a consistent cursor.

A step reads the chain in three JSON-RPC requests: the head with the cursor's block, the raw
logs (decoded straight to what is stored by :meth:`ledger.events.EventDecoder.record`; read
and decoded ahead while the previous step wrote, :mod:`node.chain.readahead`), and the headers of the
blocks holding them; then it files the events, projects them
(:class:`node.chain.projections.Projection`) and inserts its rows at once
(:mod:`node.chain.bulk`). With nothing new on the chain a step is the first request and one SQL
read. A step takes at most ``chunk`` blocks and about ``step_events`` events: its span of blocks
shrinks to fit a burst and doubles back over quiet stretches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger.deploy import Ledger
from ledger.errors import BlockMissing, ChainReadFailed
from ledger.events import ChainEvent, LogRecord, fetch_logs
from node.chain.attribution import GrantTerms
from node.chain.bulk import insert_rows
from node.chain.projections import Projection, reproject
from node.chain.readahead import ReadAhead
from node.chain.rows import IndexedEvent, needs_grant
from node.models import ChainEventRow, IndexedBlock, IndexerCursor, Watermark

CURSOR = "events"
EVENTS: Table = ChainEventRow.__table__  # type: ignore[assignment]
BLOCKS: Table = IndexedBlock.__table__  # type: ignore[assignment]
FIRST_SPAN = 64
"""Blocks the first step reads (or ``chunk``, if fewer): catching up on a busy chain, a step
of ``chunk`` blocks could hold the whole chain's events; the span grows from here."""
LOGS_TIMEOUT = 120.0
"""Seconds for one step's ``eth_getLogs``, far longer than the batcher's own for short calls."""

def event_row(event: ChainEvent, block_time: int | None = None, grant: GrantTerms | None = None) -> ChainEventRow:
    """The row of ``event``, filed where ``node.chain.attribution.place`` says (with ``grant``, the
    event's grant as indexed before it, for events that name only a grant)."""
    return ChainEventRow(**IndexedEvent.filed(LogRecord.of(event), block_time, grant).values())


class Indexer:
    def __init__(self, sessions: sessionmaker[Session], ledger: Ledger, *, confirmations: int = 1,
                 chunk: int = 2000, until: int | None = None, step_events: int = 10_000,
                 rollback_lock: threading.Lock | None = None) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.confirmations = confirmations
        self.chunk = chunk
        self.until = until
        """The last block to index, if not the chain's head (``node reindex`` stops at the live cursor)."""
        self.step_events = step_events
        self._span = min(chunk, FIRST_SPAN)
        self._behind = False
        self._ahead = ReadAhead(self._logs)
        self._rollback_lock = rollback_lock or threading.Lock()
        """Held while a reorg is undone, which moves followers' watermarks back (the monitor holds
        it for each of its steps); new events are indexed without it."""

    def step(self) -> int:
        """Index the next span of confirmed blocks; returns the number of events taken."""
        self._behind = False
        with self.sessions() as session:
            cursor = session.get(IndexerCursor, CURSOR)
            head, cursor_hash = self._head(cursor.block_number if cursor else None)
            if cursor is not None and cursor_hash != cursor.block_hash:
                with self._rollback_lock:
                    self._roll_back(session, self._fork_point(session))
                    session.commit()
                cursor = session.get(IndexerCursor, CURSOR)
            start = cursor.block_number + 1 if cursor else self.ledger.manifest.deployment_block
            safe = head - max(self.confirmations - 1, 0)
            if self.until is not None:
                safe = min(safe, self.until)
            end = min(safe, start + self._span - 1)
            if end < start:
                return 0
            events, end, headers = self._read(start, end, safe)
            self._store(session, events, end, headers)
            session.commit()
            self._behind = end < safe
            return len(events)

    def catch_up(self) -> int:
        total = 0
        while True:
            taken = self.step()
            total += taken
            if not self._behind and taken == 0:
                return total

    # ------------------------------------------------------------ internals

    def _read(self, start: int, end: int, safe: int) -> tuple[list[LogRecord], int, dict[int, dict[str, Any]]]:
        """A step's events from block ``start`` (fitted by :meth:`_fit`), its last block, and the
        headers of its blocks, which must agree with its logs on every block's hash: logs read
        ahead (:class:`ReadAhead`) are read again if not, and a chain that changed between the
        two requests fails the step (it is tried again). Then the next span is read ahead."""
        for fresh in (False, True):
            if not fresh:
                logs, last, ahead = self._ahead.take(start, end, safe)
            elif ahead:
                logs, last = self._logs(start, end), end
            else:
                break
            events, last = self._fit(logs, start, last)
            headers = self._headers(sorted({e.block_number for e in events} | {last}))
            if all(headers[e.block_number]["hash"] == e.block_hash for e in events):
                self._ahead.read_on(last, safe, self._span, self.step_events)
                return events, last, headers
            self._ahead.clear()
        raise ChainReadFailed(f"the logs of blocks {start}-{end}", "the chain changed while they were read")

    def _logs(self, start: int, end: int) -> list[LogRecord]:
        """The contracts' events in blocks ``start..end``, decoded (from the read-ahead thread too)."""
        logs = fetch_logs(self.ledger.rpc, self.ledger.events.addresses, start, end, timeout=LOGS_TIMEOUT)
        return [e for e in map(self.ledger.events.record, logs) if e is not None]

    def _fit(self, logs: list[LogRecord], start: int, end: int) -> tuple[list[LogRecord], int]:
        """The logs of a step and its last block: whole blocks, as many as hold about
        ``step_events`` events (one block at least). Sets the next step's span from this one,
        and keeps the logs left over for it."""
        if len(logs) <= self.step_events:
            if len(logs) < self.step_events // 2:
                self._span = min(self.chunk, self._span * 2)
            return logs, end
        cut = logs[self.step_events].block_number
        if cut <= start:  # one block holds more than a step's events: it is the step
            cut = start + 1
        kept = next((n for n, log in enumerate(logs) if log.block_number >= cut), len(logs))
        self._span = max(1, cut - start)
        self._ahead.keep(cut, end, logs[kept:])
        return logs[:kept], cut - 1

    def _head(self, cursor: int | None) -> tuple[int, str | None]:
        """The chain's head and the hash of block ``cursor`` (None: none), in one request."""
        calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
        if cursor is not None:
            calls.append(("eth_getBlockByNumber", [hex(cursor), False]))
        replies = self.ledger.rpc.call(calls)
        if replies[0].error or not isinstance(replies[0].result, str):
            raise ChainReadFailed("the chain's head", replies[0].message or "no block number")
        block = replies[1].result if cursor is not None else None
        return int(replies[0].result, 16), block["hash"] if isinstance(block, dict) else None

    def _chain_hashes(self, numbers: Sequence[int]) -> list[str | None]:
        """The hashes of blocks ``numbers`` on the chain now (None: it has no such block)."""
        replies = self.ledger.rpc.call([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return [r.result["hash"] if isinstance(r.result, dict) else None for r in replies]

    def _headers(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        """The headers of blocks ``numbers``, fetched in JSON-RPC batches."""
        headers: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), 500):
            part = numbers[start : start + 500]
            replies = self.ledger.rpc.call([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for number, reply in zip(part, replies):
                if reply.error or not reply.result:
                    raise BlockMissing(number, reply.message or "missing")
                headers[number] = reply.result
        return headers

    def _store(self, session: Session, events: list[LogRecord], end: int, headers: dict[int, dict[str, Any]]) -> None:
        """File, project and insert a step's ``events`` (in chain order), up to block ``end``."""
        times = {number: int(header["timestamp"], 16) for number, header in headers.items()}
        projection = Projection(session)
        projection.load_grants(e.args["grantId"] for e in events if "grantId" in e.args)
        rows: list[dict[str, Any]] = []
        for log in events:
            grant = projection.terms(log.args["grantId"]) if needs_grant(log.args) else None
            row = IndexedEvent.filed(log, times[log.block_number], grant)
            rows.append(row.values())
            projection.apply(row)
        # In chain order, so the ids (the monitor's watermark) follow the chain.
        insert_rows(session, EVENTS, rows)
        projection.finish()
        start = min(headers)
        session.execute(delete(IndexedBlock).where(IndexedBlock.number >= start, IndexedBlock.number <= end))
        insert_rows(session, BLOCKS, [{"number": number, "hash": header["hash"], "parent_hash": header["parentHash"]}
                                      for number, header in headers.items()])
        session.merge(IndexerCursor(name=CURSOR, block_number=end, block_hash=headers[end]["hash"]))

    def _fork_point(self, session: Session) -> int:
        """The newest indexed block the chain still has, by hash (asked 100 blocks a request)."""
        known = session.scalars(select(IndexedBlock).order_by(IndexedBlock.number.desc())).all()
        for start in range(0, len(known), 100):
            part = known[start : start + 100]
            for block, chain_hash in zip(part, self._chain_hashes([b.number for b in part])):
                if chain_hash == block.hash:
                    return block.number
        return self.ledger.manifest.deployment_block - 1

    def _roll_back(self, session: Session, fork: int) -> None:
        undone = session.scalars(select(ChainEventRow).where(ChainEventRow.block_number > fork)).all()
        touched = touched_keys(undone)
        session.execute(delete(ChainEventRow).where(ChainEventRow.block_number > fork))
        session.execute(delete(IndexedBlock).where(IndexedBlock.number > fork))
        # Followers (the monitor) read on from the events they saw: the events indexed again may
        # get the ids of those undone (SQLite reuses them), so they read them again (alerts are
        # keyed, so a sighting replayed is one alert).
        kept = session.scalar(select(func.max(ChainEventRow.id))) or 0
        session.execute(update(Watermark).where(Watermark.value > kept).values(value=kept))
        fork_hash = self._chain_hashes([fork])[0] if fork >= 0 else None
        session.merge(IndexerCursor(name=CURSOR, block_number=fork, block_hash=fork_hash or "0x" + "00" * 32))
        session.flush()
        reproject(session, fork, touched)


def touched_keys(rows: Iterable[ChainEventRow]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {"grant": set(), "issue": set(), "frozen": set(), "metadata": set()}
    for row in rows:
        if row.name in ("DatasetFrozen", "DatasetUnfrozen") and row.dataset_id:
            keys["frozen"].add(row.dataset_id)
        if row.name == "MetadataUpdated" and row.dataset_id:
            keys["metadata"].add(row.dataset_id)
        if row.grant_id:
            keys["grant"].add(row.grant_id)
        if "issueId" in row.args:
            keys["issue"].add(row.args["issueId"])
    return keys
