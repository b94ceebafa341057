"""A step's rows written at once: one ``executemany`` on SQLite, one ``COPY`` on PostgreSQL.

psycopg runs an ``executemany`` as one INSERT per row (pipelined), which left the PostgreSQL
server parsing and planning each of a step's tens of thousands of rows; SQLAlchemy's
multi-row INSERTs ("insertmanyvalues") are slower still there, as psycopg parses each long
statement anew. ``COPY ... FROM STDIN`` is PostgreSQL's own bulk load, and psycopg's
``Cursor.copy`` writes it row by row from Python values. On SQLite the rows go to the driver's
``executemany`` as tuples, past SQLAlchemy's per-row parameter processing, which cost as much as
SQLite's own work. Either way JSON columns get the text SQLAlchemy's JSON type would have
bound (the dialect's serializer, ``json.dumps`` by default), so the rows are the same as
``session.execute(insert(table), rows)`` writes, which other databases get.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, column names) into ``table`` in their order,
    in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in ("sqlite", "postgresql") or dialect.driver not in ("pysqlite", "psycopg"):
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    serialize = dialect._json_serializer or json.dumps
    as_json = [isinstance(table.c[n].type, JSON) for n in names]
    values = [[serialize(row[n]) if j else row[n] for n, j in zip(names, as_json)] for row in rows]
    quote = dialect.identifier_preparer
    into = f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)})"
    if dialect.name == "sqlite":
        connection.exec_driver_sql(f"INSERT INTO {into} VALUES ({', '.join('?' * len(names))})",
                                   [tuple(v) for v in values])
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
        for value in values:
            copy.write_row(value)
