"""Fixtures shared by every Python test: a real anvil chain and the compiled contracts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain import LocalChain, find_anvil
from ledger.compile import PROJECT_ROOT, ContractArtifact, compile_contracts
from tests.utils.ledgers import Suite, deploy
from tests.utils.postgres import TemporaryPostgres, postgres_available
from tests.utils.required import require


@pytest.fixture(scope="session")
def artifacts() -> dict[str, ContractArtifact]:
    return compile_contracts()


@pytest.fixture(scope="session")
def chain() -> Iterator[LocalChain]:
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=20) as local:
        yield local


@pytest.fixture(scope="module")
def suite(chain: LocalChain, artifacts: dict[str, ContractArtifact]) -> Suite:
    """A suite deployed afresh for each test module, on the session's chain."""
    return deploy(chain, artifacts)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    """One throwaway PostgreSQL server for the session; missing, it fails under CI and skips elsewhere."""
    require("PostgreSQL", postgres_available(), "make postgres")
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database per test, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/node.db"
    # Looked up only here, so SQLite-only runs never start PostgreSQL.
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{uuid.uuid4().hex}")
