"""The database fixtures: every backend stores and returns rows, and test servers do not outlive their block."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from tests.utils.postgres import TemporaryPostgres, postgres_available
from tests.utils.required import require


def test_database_url_stores_and_returns_a_row(database_url: str, request: pytest.FixtureRequest) -> None:
    # A nearer conftest's database_url would shadow the parametrized one and leave a backend untested.
    callspec = getattr(request.node, "callspec", None)
    assert callspec is not None, "database_url is not parametrized here: a nearer conftest shadows it"
    engine = create_engine(database_url)
    assert engine.dialect.name == callspec.params["database_url"]
    metadata = MetaData()
    notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(64)))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(notes), [{"body": "first"}, {"body": "second"}])
        with engine.connect() as conn:
            assert conn.execute(select(notes.c.body).order_by(notes.c.id)).scalars().all() == ["first", "second"]
    finally:
        engine.dispose()


def test_temporary_postgres_stops_its_server_and_removes_its_files_even_when_the_block_raises() -> None:
    require("PostgreSQL", postgres_available(), "make postgres")
    with pytest.raises(RuntimeError, match="body failed"), TemporaryPostgres() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        directory = server.directory
        raise RuntimeError("body failed")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    assert not directory.exists()
