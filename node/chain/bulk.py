"""A step's rows written at once: one ``executemany`` on SQLite, one ``COPY`` on PostgreSQL.

psycopg runs an ``executemany`` as one INSERT per row (pipelined), which left the PostgreSQL
server parsing and planning each of a step's tens of thousands of rows; SQLAlchemy's
multi-row INSERTs ("insertmanyvalues") are slower still there, as psycopg re-parses each long
statement. ``COPY ... FROM STDIN`` is PostgreSQL's own bulk load, and psycopg's
:meth:`~psycopg.Cursor.copy` writes it row by row from Python values; JSON columns get the text
SQLAlchemy's JSON type would have bound (``json.dumps``), so the rows are the same either way.
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
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    as_json = {n for n in names if isinstance(table.c[n].type, JSON)}
    serialize = connection.dialect._json_serializer or json.dumps
    columns = ", ".join(connection.dialect.identifier_preparer.quote(n) for n in names)
    table_name = connection.dialect.identifier_preparer.format_table(table)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {table_name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([serialize(row[n]) if n in as_json else row[n] for n in names])
