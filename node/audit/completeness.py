"""Completeness of a trace, proved against the chain: every event the chain files under a dataset
or a consumer is in the node's index, filed there with the same dataset, grant and consumer, and
nothing else is. A deleted row is named as missing, a row moved to another dataset or consumer
as missing here and extra there, with where each side files it.

What a check compares, up to the block the index stands on (its cursor):

- the whole trace's count on chain (``node.audit.chainsets``) and in the index;
- the page's own span of the chain, item by item: from the item the page starts after, through
  its last item (through the cursor on the last page), so reading every page compares every item,
  each page at the cost of its own items;
- on the first page, when the counts differ, the whole trace item by item, so what differs is
  named where an auditor starts reading (once per read: the other pages' spans name it too).

The index is read between two reads of its cursor, and again if the indexer moved meanwhile,
so a row indexed during the check is not taken for a forged one.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Literal

from sqlalchemy import ColumnElement, bindparam, func, select, tuple_
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from ledger.deploy import Ledger
from ledger.rpc import RpcBatcher
from node.audit.chainsets import END, ChainSets, Filed, Position, Subject
from node.errors import ChainMoved
from node.chain.indexer import CURSOR
from node.models import ChainEventRow, IndexerCursor

COLUMNS = ("block_number", "name", "dataset_id", "grant_id", "consumer")
_FILING = attrgetter(*COLUMNS)
MAX_PROBLEMS = 100
READS = 5


@dataclass
class Completeness:
    """How the index's items of a trace compare with the chain's, up to block ``block_number``."""

    subject: str
    block_number: int
    on_chain: int
    in_index: int
    scope: Literal["page", "trace"] = "page"
    """``page``: the page's span was compared item by item; ``trace``: all of it (on a first page
    whose counts differ)."""
    after: Position | None = None
    through: Position | None = None
    missing: int = 0
    extra: int = 0
    changed: int = 0
    problems: list[str] = field(default_factory=list)
    item_problems: dict[int, list[str]] = field(default_factory=dict)
    """Problems of single index rows, by row id, to show beside the item."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str, row: Filed | None = None, item: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("more differences than are listed here: see the counts")
        if row is not None and row.id is not None:
            self.item_problems.setdefault(row.id, []).append(item or problem)


# ---------------------------------------------------------------- the index's side


_C = ChainEventRow
_FILED = (_C.block_number, _C.log_index, _C.block_hash, _C.tx_hash, _C.name, _C.dataset_id, _C.grant_id, _C.consumer,
          _C.id)


def _held(kind: str) -> ColumnElement[bool]:
    return (_C.dataset_id if kind == "dataset" else _C.consumer) == bindparam("key")


@functools.cache
def _statements(kind: str) -> dict[str, Executable]:
    """The statements of the index's side for a subject of ``kind``, made once (making them cost
    a verified page more than running them): its count, its rows (all, after a row, or between
    two), and where a row stands (or the subject's last row before it, if it is gone)."""
    rows = select(*_FILED).where(_held(kind)).order_by(_C.id)
    return {
        "count": select(func.count()).select_from(_C).where(_held(kind)),
        "whole": rows,
        "after": rows.where(_C.id > bindparam("after")),
        "span": rows.where(_C.id > bindparam("after"), _C.id <= bindparam("through")),
        "before": select(_C.block_number, _C.log_index).where(_held(kind), _C.id < bindparam("row"))
        .order_by(_C.id.desc()).limit(1),
    }


_AT_ROW = select(_C.block_number, _C.log_index).where(_C.id == bindparam("row"))
_CURSOR = select(IndexerCursor.block_number, IndexerCursor.block_hash).where(IndexerCursor.name == CURSOR)


def _rows(session: Session, statement: Executable, **values: object) -> list[Filed]:
    # Plain rows from the connection: the ORM's handling of a statement of columns cost as much as running it.
    return [Filed(*row) for row in session.connection().execute(statement, values).all()]


def _cursor(session: Session) -> tuple[int, str] | None:
    found = session.connection().execute(_CURSOR).first()
    return (found[0], found[1]) if found else None


def _position(session: Session, subject: Subject, row_id: int) -> Position | None:
    """Where row ``row_id`` stands in the chain, or the subject's last row before it if it is gone."""
    read = session.connection()
    found = read.execute(_AT_ROW, {"row": row_id}).first()
    found = found or read.execute(_statements(subject.kind)["before"], {"key": subject.key, "row": row_id}).first()
    return (found[0], found[1]) if found else None


def _at(session: Session, positions: Iterable[Position]) -> dict[Position, Filed]:
    """The index's rows at ``positions``, whatever they are filed under."""
    wanted = sorted(set(positions))
    found: dict[Position, Filed] = {}
    for start in range(0, len(wanted), 500):
        where = tuple_(_C.block_number, _C.log_index).in_(wanted[start : start + 500])
        found.update((row.position, row) for row in _rows(session, select(*_FILED).where(where).order_by(_C.id)))
    return found


@dataclass(frozen=True)
class _Index:
    cursor: tuple[int, str]
    count: int
    rows: list[Filed]
    after: Position | None
    through: Position


def _read(session: Session, subject: Subject, after: int, through: int | None, whole: bool) -> _Index | None:
    """The index's side; None if the indexer moved while it was read."""
    cursor = _cursor(session)
    if cursor is None:
        return _Index((-1, ""), 0, [], None, (-1, END))
    statements, key = _statements(subject.kind), subject.key
    number = session.connection().scalar(statements["count"], {"key": key}) or 0
    if whole:
        rows, start, end = _rows(session, statements["whole"], key=key), None, None
    else:
        rows = _rows(session, statements["span" if through else "after"], key=key, after=after, through=through)
        start = _position(session, subject, after) if after else None
        end = _position(session, subject, through) if through else None
    if _cursor(session) != cursor:
        return None
    return _Index(cursor, number, rows, start, end or (cursor[0], END))


# ---------------------------------------------------------------- the check


class TraceChecker:
    """Checks that a node's traces are complete; keeps the chain's side per subject."""

    def __init__(self, ledger: Ledger, sessions: sessionmaker[Session], *, chain: ChainSets | None = None) -> None:
        self.ledger = ledger
        self.sessions = sessions
        self.chain = chain or ChainSets(ledger)

    def check(self, subject: Subject, *, after: int = 0, through: int | None = None,
              rpc: RpcBatcher | None = None) -> Completeness:
        """Compare the trace of ``subject`` with the chain: its count, and item by item the span
        of the page of items after row ``after`` through row ``through`` (None: the last page)."""
        rpc = rpc or self.ledger.rpc
        whole = False
        for _ in range(READS):
            with self.sessions() as session:
                index = _read(session, subject, after, through, whole)
                if index is None:
                    continue
                block, block_hash = index.cursor
                if block < 0:
                    return Completeness(str(subject), block, 0, 0)
                try:
                    chain = self.chain.items(rpc, subject, block, block_hash)
                except ChainMoved as err:
                    return Completeness(str(subject), block, 0, index.count, problems=[
                        f"the index stands on block {block} {block_hash}, which the chain no longer has "
                        f"({err}): the indexer has not followed a reorg yet"])
                if index.count != len(chain) and not whole and not after:
                    whole = True
                    continue
                return self._compare(session, rpc, subject, index, chain, whole)
        return Completeness(str(subject), -1, 0, 0, problems=[
            f"the index moved on during each of {READS} reads: try again"])

    def _compare(self, session: Session, rpc: RpcBatcher, subject: Subject, index: _Index, chain: Sequence[Filed],
                 whole: bool) -> Completeness:
        block = index.cursor[0]
        result = Completeness(str(subject), block, len(chain), index.count, "trace" if whole else "page",
                              index.after, index.through)

        if index.count != len(chain):
            result.add(f"the chain has {len(chain)} events of this {subject.kind} up to block {block}, the index "
                       f"{index.count}" + ("" if whole else ": the first page of a verified read names each difference"))

        def inside(position: Position) -> bool:
            return (index.after is None or position > index.after) and position <= index.through

        ours: dict[tuple[str, str, int], Filed] = {}
        for row in index.rows:
            if row.block_number > block:
                result.extra += 1
                result.add(f"the index holds {row.where()} as event {row.id}, beyond block {block} it has indexed",
                           row, f"beyond block {block}, the last the index took from the chain")
            elif not inside(row.position):
                result.changed += 1
                result.add(f"event {row.id} ({row.where()}) is out of chain order: this page covers the chain "
                           f"after {_told(index.after)} through {_told(index.through)}", row,
                           "out of chain order among the trace's items")
            else:
                ours[row.key] = row
        def at(position: Position | None) -> int:
            return bisect_right(chain, position, key=lambda f: f.position) if position is not None else 0

        theirs = {f.key: f for f in chain[at(index.after) : at(index.through)]}
        differing = [k for k in ours.keys() & theirs.keys() if _FILING(ours[k]) != _FILING(theirs[k])]
        for key in sorted(differing, key=lambda k: theirs[k].position):
            row, filed = ours[key], theirs[key]
            for column in COLUMNS:
                if getattr(row, column) != getattr(filed, column):
                    result.changed += 1
                    text = f"column {column} is {getattr(row, column)!r}, the chain says {getattr(filed, column)!r}"
                    result.add(f"event {row.id} ({row.where()}): {text}", row, text)
        self._missing(session, result, subject, sorted((theirs[k] for k in theirs.keys() - ours.keys()),
                                                       key=lambda f: f.position))
        self._extra(rpc, result, subject, sorted((ours[k] for k in ours.keys() - theirs.keys()),
                                                 key=lambda f: f.position), index.cursor)
        return result

    def _missing(self, session: Session, result: Completeness, subject: Subject, missing: list[Filed]) -> None:
        result.missing += len(missing)
        found = _at(session, (f.position for f in missing[:MAX_PROBLEMS]))
        for filed in missing:
            text = f"the chain has {filed.where()} that the index lacks"
            other = found.get(filed.position)
            if other is None:
                result.add(text)
            elif other.key != filed.key:
                result.add(f"{text}: the index holds event {other.id} there instead, {other.where()}")
            elif getattr(other, subject.column) != getattr(filed, subject.column):
                result.add(f"{text}: the index files it (event {other.id}) under {other.under(subject)}")
            else:
                result.add(f"{text} in this span: the index holds it as event {other.id}, out of chain order")

    def _extra(self, rpc: RpcBatcher, result: Completeness, subject: Subject, extra: list[Filed],
               cursor: tuple[int, str]) -> None:
        """Name, for each row the chain does not file here, where the chain files it."""
        result.extra += len(extra)
        named = extra[:MAX_PROBLEMS]
        if not named:
            return
        blocks = sorted({row.block_hash for row in named})
        replies = rpc.call([("eth_getLogs", [{"blockHash": h, "address": self.ledger.events.addresses}]) for h in blocks])
        found = {(h, int(log["logIndex"], 16)): log for h, reply in zip(blocks, replies) for log in reply.result or []}
        logs = [found.get((row.block_hash, row.log_index)) for row in named]
        filed = dict(zip((row.id for row in named), self.chain.file_logs(rpc, logs, cursor)))
        for row in named:
            text = f"the index files {row.where()} (event {row.id}) under {row.under(subject)}"
            theirs = filed.get(row.id)
            if theirs is None:
                result.add(f"{text}, but the chain has no such event", row, "the chain has no such event")
            elif theirs.tx_hash != row.tx_hash:
                result.add(f"{text}, but the chain's event there is {theirs.where()}", row,
                           f"the chain's event there is {theirs.where()}")
            else:
                differs = [f"column {c} is {getattr(row, c)!r}, the chain says {getattr(theirs, c)!r}"
                           for c in COLUMNS if getattr(row, c) != getattr(theirs, c)]
                result.add(f"{text}; the chain files it under {theirs.under(subject)}", row, "; ".join(differs) or None)


def _told(position: Position | None) -> str:
    if position is None:
        return "its start"
    return f"block {position[0]}" if position[1] >= END else f"block {position[0]} log {position[1]}"
