"""Dataset versions loaded into DuckDB for queries: once per content root, a few kept (LRU).

A version is read from its source's bytes, CSV with a header or JSON lines, in its recorded
text encoding (GBK and GB18030 decoded here: DuckDB reads UTF-8). Every cell is loaded as text,
an empty one as NULL, and then a column becomes a number only when every value in it is one
(whole numbers BIGINT, others DOUBLE) and none is written with a leading zero: a code such as
``0101`` stays the text it is, so CSV and JSON lines of the same table load alike.

DuckDB reads a version streamed through a private named pipe as a thread decrypts it, CSV as
UTF-8 text and JSON lines as one JSON array of cells a record (parsed by :mod:`json` here, so
that values read as they do for deliveries): whatever its size, a version is never held whole
in Python's memory.

One in-memory DuckDB database serves the process; each thread queries it through a cursor of
its own (DuckDB connections are not shared across threads). A version in use is never dropped:
the LRU evicts only versions no query is reading.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
from sqlglot import exp

from node.access.delivery.masking import field_key, json_records
from node.errors import InvalidInput, QueryRefused
from node.formats import Kind, transcode
from node.store import PLAIN, DataStore

LOADED_VERSIONS = 4
"""How many versions stay loaded at once."""
_CHUNK = 1 << 20
_LINES_CHUNK = 1 << 16
"""JSON lines are read in smaller chunks: each is split into a list of its lines."""


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")


@dataclass
class LoadedVersion:
    """A version's ``table`` in DuckDB: its columns by case-folded name, their types, its rows."""

    table: str
    columns: dict[str, str]
    types: dict[str, str]
    rows: int
    readers: int = 0
    loading: threading.Lock = field(default_factory=threading.Lock)

    def column(self, name: str) -> str:
        """The column field ``name`` is (DuckDB matches names without regard to case)."""
        found = self.columns.get(field_key(name).casefold())
        if found is None:
            raise QueryRefused(f"field {name}", "this version has no such field", column=name)
        return found

    def numeric(self, column: str) -> bool:
        """Whether every value of ``column`` is a number."""
        return self.types[column] in ("BIGINT", "DOUBLE")


class _Store:
    """The process's DuckDB database and the versions loaded in it."""

    def __init__(self) -> None:
        self.db = duckdb.connect(":memory:")
        self.lock = threading.Lock()
        self.versions: OrderedDict[str, LoadedVersion] = OrderedDict()
        self.local = threading.local()
        self.made = 0

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self.local, "cursor", None)
        if cursor is None:
            with self.lock:
                cursor = self.local.cursor = self.db.cursor()
        return cursor

    def evict(self) -> None:
        """Drop the least recently used versions no query reads, past :data:`LOADED_VERSIONS`
        (called with the lock held)."""
        idle = [root for root, v in self.versions.items() if v.readers == 0]
        for root in idle[: max(len(self.versions) - LOADED_VERSIONS, 0)]:
            version = self.versions.pop(root)
            self.db.execute(f"DROP TABLE IF EXISTS {_quoted(version.table)}")


_STORE = _Store()


def execute(sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """``sql`` run on this thread's cursor; DuckDB's own error text is not passed on, as it may
    quote a value of the data."""
    try:
        return _STORE.cursor().execute(sql, parameters).fetchall()
    except duckdb.Error as err:
        raise QueryRefused("the query", f"DuckDB could not run it ({type(err).__name__}); "
                           "check its comparisons' types against the fields'") from None


def _write_utf8_csv(src: BinaryIO, encoding: str, dst: BinaryIO) -> None:
    """CSV read from ``src`` (its plaintext) written to ``dst`` as UTF-8."""
    chunks = iter(lambda: src.read(_CHUNK), b"")
    for chunk in chunks if encoding == "utf-8" else transcode(chunks, encoding, "utf-8"):
        dst.write(chunk)


def _write_json_arrays(src: BinaryIO, encoding: str, dst: BinaryIO, names: dict[str, None]) -> None:
    """JSON lines read from ``src`` written to ``dst`` one record at a time, each as a JSON array
    of its cells in the order of ``names``, the keys seen so far (filled in here): a record
    before a key's first appearance has a shorter array, so no record waits for the last one's
    keys and the version is never held whole."""
    batch: list[str] = []
    for record in json_records(iter(lambda: src.read(_LINES_CHUNK), b""), encoding):
        if not names.keys() >= record.keys():
            names.update(dict.fromkeys(record))
        cells = [value if type(value) is str else _cell(value) for value in map(record.get, names)]
        batch.append("[" + ",".join(map(encode_basestring, cells)) + "]")
        if len(batch) == 1024:
            dst.write(("\n".join(batch) + "\n").encode())
            batch.clear()
    if batch:
        dst.write(("\n".join(batch) + "\n").encode())


@contextmanager
def _piped(folder: str, name: str, produce: Callable[[BinaryIO], object]) -> Iterator[Path]:
    """A named pipe ``name`` in ``folder`` (one only this user may enter), which a thread fills
    with what ``produce`` writes while the reader reads it: DuckDB reads the plaintext as it is
    decrypted and converted, and no copy of it in clear is ever on disk. The writer always opens
    the pipe (so its reader never waits for it), and whatever the reader leaves unread is
    drained (so the writer always ends); a failure to produce is raised here, after the reader,
    which then saw a short table."""
    failure: list[BaseException] = []
    pipe = Path(folder) / name
    os.mkfifo(pipe, 0o600)

    def write() -> None:
        try:
            with open(pipe, "wb") as dst:
                produce(dst)
        except BrokenPipeError:
            pass
        except BaseException as err:
            failure.append(err)

    writer = threading.Thread(target=write, name="query-load", daemon=True)
    writer.start()
    try:
        yield pipe
    except BaseException:
        _drain(pipe, writer)
        if failure:  # the source's own failure says more than the reader's short table
            raise failure[0] from None
        raise
    _drain(pipe, writer)
    if failure:
        raise failure[0]


def _drain(pipe: Path, writer: threading.Thread) -> None:
    """Read what ``writer`` still writes to ``pipe`` until it ends (it may wait to open the pipe)."""
    if not writer.is_alive():
        return
    fd = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while writer.is_alive():
            try:
                if os.read(fd, _CHUNK):
                    continue
            except BlockingIOError:
                pass
            writer.join(0.005)
    finally:
        os.close(fd)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _cell(value: object) -> str:
    """A JSON value as the CSV cell of it that the table is read from: text as it is, null
    empty, the rest as compact JSON (numbers written as :mod:`json` writes them, without its
    encoder for the common ones)."""
    if value is None or isinstance(value, str):
        return value or ""
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return _JSON(value)


_NUMBER = "isfinite(TRY_CAST({c} AS DOUBLE)) AND NOT regexp_matches({c}, '^\\s*[+-]?0[0-9]')"
_WHOLE = "regexp_matches({c}, '^\\s*[+-]?[0-9]+\\s*$') AND TRY_CAST({c} AS BIGINT) IS NOT NULL"


def _types(cursor: duckdb.DuckDBPyConnection, raw: str, cells: list[str]) -> tuple[int, list[str]]:
    """The rows of text table ``raw`` and the type each of its ``cells`` (column expressions)
    loads as: BIGINT or DOUBLE when every value is such a number written without a leading
    zero, else VARCHAR."""
    probes = [f"bool_and({c} IS NULL OR COALESCE({test.format(c=c)}, false))" for c in cells for test in (_NUMBER, _WHOLE)]
    found = cursor.execute(f"SELECT COUNT(*), {', '.join(probes)} FROM {_quoted(raw)}").fetchone()
    assert found is not None
    flags = [flag is not False for flag in found[1:]]
    return int(found[0]), ["VARCHAR" if not number else "BIGINT" if whole else "DOUBLE"
                           for number, whole in zip(flags[0::2], flags[1::2], strict=True)]


_READ_CSV = ("header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', "
             "normalize_names = false")


def _read(cursor: duckdb.DuckDBPyConnection, kind: Kind, sql: str) -> None:
    """``sql``, which reads the version from its pipe, run; DuckDB's error text is not passed on."""
    try:
        cursor.execute(sql)
    except duckdb.Error:
        raise InvalidInput(kind, "DuckDB cannot read this version as a table with a header") from None


def _csv_table(cursor: duckdb.DuckDBPyConnection, raw: str, folder: str, plaintext: Callable[[], BinaryIO],
               encoding: str) -> list[tuple[str, str]]:
    """CSV loaded, streamed, as text table ``raw``; its columns' names and the expressions of
    their cells."""
    def text(dst: BinaryIO) -> None:
        with plaintext() as src:
            _write_utf8_csv(src, encoding, dst)

    with _piped(folder, "version.csv", text) as path:
        _read(cursor, "csv", f"CREATE TABLE {_quoted(raw)} AS SELECT * FROM read_csv({_literal(str(path))}, {_READ_CSV})")
    return [(row[0], _quoted(row[0])) for row in cursor.execute(f"DESCRIBE {_quoted(raw)}").fetchall()]


def _json_lines_table(cursor: duckdb.DuckDBPyConnection, raw: str, folder: str, plaintext: Callable[[], BinaryIO],
                      encoding: str) -> list[tuple[str, str]]:
    """JSON lines loaded, streamed, as table ``raw`` of one list of cells a record; its columns'
    names and the expressions of their cells. The names are those DuckDB gives the header of
    the records' CSV conversion (the keys in order of first appearance; an empty one
    ``column<n>``, one repeated but for case suffixed ``_1``), so that a table loads alike from
    CSV and JSON lines, read by DuckDB from a pipe of its own once the last record is read."""
    keys: dict[str, None] = {}

    def arrays(dst: BinaryIO) -> None:
        with plaintext() as src:
            _write_json_arrays(src, encoding, dst, keys)

    with _piped(folder, "version.jsonl", arrays) as path:
        _read(cursor, "jsonl", f"CREATE TABLE {_quoted(raw)} AS SELECT cells FROM read_json({_literal(str(path))}, "
                               "format = 'newline_delimited', records = false, columns = {'cells': 'VARCHAR[]'})")
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(keys)
    with _piped(folder, "header.csv", lambda dst: dst.write(header.getvalue().encode())) as path:
        names = [row[0] for row in
                 cursor.execute(f"DESCRIBE SELECT * FROM read_csv({_literal(str(path))}, {_READ_CSV})").fetchall()]
    if keys and len(names) != len(keys):
        raise InvalidInput("jsonl", "DuckDB cannot read this version's keys as a table's column names")
    return [(name, f"cells[{i}]") for i, name in enumerate(names, 1)]


def _load(table: str, source: Path, kind: Kind, encoding: str, store: DataStore) -> LoadedVersion:
    cursor = _STORE.cursor()
    raw = f"{table}_text"
    try:
        with tempfile.TemporaryDirectory(prefix="provledger-query-") as folder:
            read = _csv_table if kind == "csv" else _json_lines_table
            found = read(cursor, raw, folder, lambda: store.open(source), encoding)
        cells = [f"NULLIF({cell}, '')" for _, cell in found]
        rows, kinds = _types(cursor, raw, cells)
        columns = [(field_key(name), kind) for (name, _), kind in zip(found, kinds, strict=True)]
        select = [f"{cell if kind == 'VARCHAR' else f'TRY_CAST({cell} AS {kind})'} AS {_quoted(name)}"
                  for cell, (name, kind) in zip(cells, columns, strict=True)]
        cursor.execute(f"CREATE TABLE {_quoted(table)} AS SELECT {', '.join(select)} FROM {_quoted(raw)}")
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS {_quoted(raw)}")
    return LoadedVersion(table, {name.casefold(): name for name, _ in columns}, dict(columns), rows)


@contextmanager
def loaded(source: Path, *, kind: Kind, encoding: str, content_root: str,
           store: DataStore = PLAIN) -> Iterator[LoadedVersion]:
    """The version with ``content_root`` loaded (from ``source``, read through ``store``, the first
    time), held against eviction while the block reads it."""
    with _STORE.lock:
        version = _STORE.versions.get(content_root)
        if version is None:
            _STORE.made += 1
            version = _STORE.versions[content_root] = LoadedVersion(f"version_{_STORE.made}", {}, {}, -1)
        _STORE.versions.move_to_end(content_root)
        version.readers += 1
    try:
        with version.loading:
            if version.rows < 0:
                found = _load(version.table, source, kind, encoding, store)
                version.columns, version.types, version.rows = found.columns, found.types, found.rows
        yield version
    finally:
        with _STORE.lock:
            version.readers -= 1
            _STORE.evict()
