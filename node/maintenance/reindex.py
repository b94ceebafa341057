"""``provledger node reindex``: the index rebuilt from the chain alone, and checked equal to the live one.

The tables the indexer derives from the contracts' events (:data:`DERIVED`) are rebuilt in a
fresh SQLite file by the real :class:`~node.chain.indexer.Indexer`, from the deployment block to
the block the live index stands at, then compared with the live tables table by table, row by
row, by a stable key. The live rows are read from one snapshot (a copy by SQLite's online
backup, or one REPEATABLE READ transaction on PostgreSQL), so the check runs beside a working
node. Every difference is reported by table and key: a row the chain does not back, a row the
live index lacks, a column that differs. What is not compared is said: surrogate ids and local
timestamps (:attr:`Derived.ignored`), and :data:`NOT_COMPARED`.

``replace`` swaps the rebuilt tables in, on a stopped node (:func:`node.maintenance.stopped`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ColumnElement

from ledger.chain import connect
from ledger.deploy import Ledger, Manifest
from node.chain.indexer import CURSOR, Indexer
from node.db import make_engine, migrate, session_factory
from node.maintenance.backup import sqlite_copy
from node.models import (
    CatalogDataset, CatalogVersion, ChainEventRow, Grant, IndexedBlock, IndexerCursor, Lineage, Note, QualityIssue,
    QueryRow, Use, Watermark,
)


@dataclass(frozen=True)
class Derived:
    """A table the indexer derives from the chain: its stable key, the columns not compared
    (surrogate ids, local timestamps) and, for a table that also holds the node's own rows,
    which of its rows are derived."""

    table: Table
    key: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    derived_rows: ColumnElement[bool] | None = None

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def compared(self) -> list[str]:
        return [c.name for c in self.table.columns if c.name not in self.ignored]

    def select(self) -> Any:
        query = select(*(self.table.c[n] for n in self.compared))
        if self.derived_rows is not None:
            query = query.where(self.derived_rows)
        return query.order_by(*(self.table.c[k] for k in self.key))


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


DERIVED: tuple[Derived, ...] = (
    Derived(_table(ChainEventRow), ("block_number", "log_index"), ignored=("id",)),
    Derived(_table(Use), ("block_number", "log_index"), ignored=("id",)),
    Derived(_table(QueryRow), ("grant_id", "sequence")),
    Derived(_table(Grant), ("grant_id",)),
    Derived(_table(QualityIssue), ("issue_id",)),
    Derived(_table(Lineage), ("child_id", "parent_id")),
    Derived(_table(CatalogDataset), ("dataset_id",)),
    Derived(_table(CatalogVersion), ("dataset_id", "number")),
    # Texts written here and not (yet) published are the node's own.
    Derived(_table(Note), ("hash",), ignored=("created_at",), derived_rows=Note.published_block.is_not(None)),
    Derived(_table(IndexerCursor), ("name",)),
)
NOT_COMPARED = {
    "indexed_blocks": "the indexer's bookkeeping: which blocks it checks for reorgs depends on where each of "
                      "its steps ended (replaced with the rest)",
    "datasets.frozen": "the department's own datasets; their frozen flag is compared as catalog_datasets.frozen",
}


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[Any, ...]
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {'/'.join(str(k) for k in self.key)}: {self.problem}"


@dataclass
class Report:
    cursor_block: int | None
    """The block the live index stood at, the rebuild's last."""
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Rows per table: (live, rebuilt)."""
    differences: list[Difference] = field(default_factory=list)
    seconds: float = 0.0
    rebuilt: Path | None = None

    @property
    def equal(self) -> bool:
        return not self.differences

    @property
    def rows(self) -> int:
        return sum(live for live, _ in self.tables.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "equal": self.equal, "cursor_block": self.cursor_block, "seconds": round(self.seconds, 3),
            "tables": {name: {"live": live, "rebuilt": rebuilt} for name, (live, rebuilt) in self.tables.items()},
            "differences": [{"table": d.table, "key": list(d.key), "problem": d.problem} for d in self.differences],
            "ignored_columns": {d.name: list(d.ignored) for d in DERIVED if d.ignored},
            "not_compared": NOT_COMPARED,
        }


Rows = dict[tuple[Any, ...], dict[str, Any]]


def read_rows(connection: Connection, derived: Derived) -> Rows:
    rows: Rows = {}
    for row in connection.execute(derived.select()).mappings():
        rows[tuple(row[k] for k in derived.key)] = dict(row)
    return rows


def compare(derived: Derived, live: Rows, rebuilt: Rows) -> list[Difference]:
    found: list[Difference] = []
    for key in sorted(live.keys() | rebuilt.keys(), key=lambda k: tuple(str(v) for v in k)):
        mine, chains = live.get(key), rebuilt.get(key)
        if chains is None:
            found.append(Difference(derived.name, key, "only in the live index: the chain does not back it"))
        elif mine is None:
            found.append(Difference(derived.name, key, "missing from the live index: the chain has it"))
        else:
            for column in derived.compared:
                if mine[column] != chains[column]:
                    found.append(Difference(derived.name, key, f"{column} is {mine[column]!r} in the live index, "
                                                               f"{chains[column]!r} from the chain"))
    return found


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that sees one consistent state of the live database while the node writes on."""
    if engine.dialect.name == "sqlite":
        database = make_url(str(engine.url)).database
        assert database, "an in-memory SQLite database has no other reader"
        with tempfile.TemporaryDirectory(prefix="provledger-snapshot-") as folder:
            copy = Path(folder) / "live.db"
            sqlite_copy(Path(database), copy)
            other = make_engine(f"sqlite:///{copy}")
            try:
                with other.connect() as connection:
                    yield connection
            finally:
                other.dispose()
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        yield connection


def rebuild(ledger: Ledger, target: Path, until: int | None, *, chunk: int = 2000) -> Engine:
    """The derived tables rebuilt in a fresh SQLite file at ``target`` from the chain alone, up to
    block ``until`` (None: nothing indexed)."""
    engine = make_engine(f"sqlite:///{target}")
    migrate(engine)
    if until is None:
        return engine
    sessions = session_factory(engine)
    indexer = Indexer(sessions, ledger, confirmations=0, chunk=chunk, until=until)
    while True:
        with sessions() as session:
            cursor = session.get(IndexerCursor, CURSOR)
            if cursor is not None and cursor.block_number >= until:
                return engine
        indexer.step()


def open_ledger(chain_url: str, manifest_path: Path) -> Ledger:
    """A reading ledger on the node's chain and manifest (no account: reindex only reads)."""
    from node.service import load_artifacts

    return Ledger(connect(chain_url), Manifest.load(manifest_path), load_artifacts())


def reindex(live: Engine, ledger: Ledger, work_dir: Path) -> Report:
    """Rebuild into ``work_dir/rebuilt.db`` and compare with ``live``."""
    started = time.monotonic()
    with snapshot(live) as connection:
        cursor = connection.execute(select(IndexerCursor.block_number).where(IndexerCursor.name == CURSOR)).scalar()
        report = Report(cursor_block=cursor)
        lives = {d.name: read_rows(connection, d) for d in DERIVED}
    rebuilt = rebuild(ledger, work_dir / "rebuilt.db", cursor)
    report.rebuilt = work_dir / "rebuilt.db"
    try:
        with rebuilt.connect() as connection:
            for derived in DERIVED:
                chains = read_rows(connection, derived)
                report.tables[derived.name] = (len(lives[derived.name]), len(chains))
                report.differences += compare(derived, lives[derived.name], chains)
    finally:
        rebuilt.dispose()
    report.seconds = time.monotonic() - started
    return report


def replace(live: Engine, rebuilt_path: Path) -> int:
    """Swap the rebuilt derived tables (and ``indexed_blocks``) into ``live`` in one transaction;
    the monitor's watermarks follow the events they stood at. Call it on a stopped node only.
    Returns the rows written."""
    rebuilt = make_engine(f"sqlite:///{rebuilt_path}")
    written = 0
    try:
        with rebuilt.connect() as source, live.begin() as target:
            marks = {name: _event_key(target, value) for name, value in target.execute(
                select(Watermark.name, Watermark.value)).all()}
            tables = [*(d.table for d in DERIVED if d.derived_rows is None), _table(IndexedBlock)]
            for table in tables:
                target.execute(delete(table))
                rows = [dict(r) for r in source.execute(select(table)).mappings()]
                if rows:
                    target.execute(insert(table), rows)
                written += len(rows)
            notes = [dict(r) for r in source.execute(select(_table(Note))).mappings()]
            target.execute(update(Note).where(Note.published_block.is_not(None)).values(published_block=None))
            for note in notes:
                updated = target.execute(update(Note).where(Note.hash == note["hash"])
                                         .values(published_block=note["published_block"], text=note["text"]))
                if not updated.rowcount:
                    target.execute(insert(_table(Note)), [note])
            written += len(notes)
            for name, key in marks.items():
                value = 0 if key is None else target.execute(select(func.max(ChainEventRow.id)).where(
                    (ChainEventRow.block_number < key[0])
                    | ((ChainEventRow.block_number == key[0]) & (ChainEventRow.log_index <= key[1])))).scalar() or 0
                target.execute(update(Watermark).where(Watermark.name == name).values(value=value))
            if live.dialect.name == "postgresql":
                for table in tables:
                    if "id" in table.c:
                        target.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"))
    finally:
        rebuilt.dispose()
    return written


def _event_key(connection: Connection, event_id: int) -> tuple[int, int] | None:
    """The chain position of the newest event at or below ``event_id``."""
    row = connection.execute(select(ChainEventRow.block_number, ChainEventRow.log_index)
                             .where(ChainEventRow.id <= event_id).order_by(ChainEventRow.id.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1])
