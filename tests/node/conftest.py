"""Fixtures for node tests: a department node's settings on the session chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlalchemy.orm import Session

from ledger.chain import LocalChain
from ledger.tx import write_keystore
from node.db import make_engine, migrate, session_factory
from node.service import NodeService
from node.settings import NodeSettings
from tests.utils.ledgers import DEPARTMENTS, Suite

PASSPHRASE = "node test passphrase"


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """A session on an empty migrated database (once on SQLite, once on PostgreSQL)."""
    engine = make_engine(database_url)
    migrate(engine)
    with session_factory(engine)() as db:
        yield db
    engine.dispose()


@pytest.fixture()
def node_env(chain: LocalChain, suite: Suite, tmp_path: Path, database_url: str) -> dict[str, str]:
    """PROVLEDGER_* variables for the first department's node, with its keystore and manifest."""
    department = suite.departments[0]
    assert department.sender is not None
    keystore = write_keystore(department.sender.account, tmp_path / "keys" / "node.json", PASSPHRASE)
    manifest = department.manifest.save(tmp_path / "deployment.json")
    return {
        "PROVLEDGER_DEPARTMENT_ID": DEPARTMENTS[0],
        "PROVLEDGER_CHAIN_URL": chain.url,
        "PROVLEDGER_MANIFEST_PATH": str(manifest),
        "PROVLEDGER_KEYSTORE_PATH": str(keystore),
        "PROVLEDGER_PASSPHRASE": PASSPHRASE,
        "PROVLEDGER_DATA_DIR": str(tmp_path / "data"),
        "PROVLEDGER_DATABASE_URL": database_url,
        "PROVLEDGER_CONFIRMATIONS": "1",
    }


@pytest.fixture()
def node_settings(node_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> NodeSettings:
    for name, value in node_env.items():
        monkeypatch.setenv(name, value)
    return NodeSettings()  # type: ignore[call-arg]



@pytest.fixture()
def service(node_settings: NodeSettings) -> Iterator[NodeService]:
    """The department's node service on those settings, closed after the test."""
    service = NodeService.start(node_settings)
    yield service
    service.close()
