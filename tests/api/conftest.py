"""Fixtures for API tests: the first department's node on the session chain, once per SQL
backend, with its API served over real HTTP by uvicorn on 127.0.0.1."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.staff import create_staff
from api.streams import Server
from ledger.chain import LocalChain, free_port
from ledger.tx import write_keystore
from ledger.waiting import wait_for
from node.service import NodeService
from node.settings import NodeSettings
from tests.api.clients import staff_token
from tests.utils.ledgers import DEPARTMENTS, Suite
from tests.utils.postgres import TemporaryPostgres

PASSPHRASE = "api test passphrase"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database for the test module, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sql')}/node.db"
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{uuid.uuid4().hex}")


def start_node(chain: LocalChain, suite: Suite, root: Path, database_url: str, **settings: Any) -> NodeService:
    """The node of the first department of ``suite``, its files under ``root``, with ``settings``
    beyond the tests' own."""
    department = suite.departments[0]
    assert department.sender is not None
    return NodeService.start(NodeSettings(
        department_id=DEPARTMENTS[0], chain_url=chain.url,
        manifest_path=department.manifest.save(root / "deployment.json"),
        keystore_path=write_keystore(department.sender.account, root / "keys" / "node.json", PASSPHRASE),
        passphrase=SecretStr(PASSPHRASE), data_dir=root / "data", database_url=database_url, confirmations=1,
        **settings,
    ))


@pytest.fixture(scope="module")
def node(chain: LocalChain, suite: Suite, tmp_path_factory: pytest.TempPathFactory,
         module_database_url: str) -> Iterator[NodeService]:
    """The node of the first department, on a suite deployed for the test module."""
    service = start_node(chain, suite, tmp_path_factory.mktemp("node"), module_database_url)
    yield service
    service.close()


@dataclass
class Served:
    base_url: str
    port: int


@contextmanager
def serve(app: FastAPI, port: int | None = None, *, lifespan: bool = False,
          log_level: str = "warning") -> Iterator[Served]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a thread for the ``with`` block (with its
    lifespan, and so the node's background work, if asked)."""
    port = port or free_port()
    server = Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level,
                                           timeout_graceful_shutdown=5,
                                           lifespan="on" if lifespan else "off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    def started() -> bool | None:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} stopped before it started")
        return True if server.started else None
    wait_for(started, timeout=15, what=f"uvicorn to start on port {port}", interval=0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not stop"



@dataclass
class NodeApi:
    app: FastAPI
    http: httpx.Client
    domain: str
    staff: dict[str, str]
    """A session token of each staff account made for it, by username."""


@contextmanager
def serve_node(node: NodeService, staff: dict[str, str], password: str, *, timeout: float = 60,
               **app_settings: Any) -> Iterator[NodeApi]:
    """The node's whole API with its background work, as deployed, on 127.0.0.1 for the ``with``
    block, with a staff account of each ``{username: role}`` signed in."""
    with node.sessions() as session:
        for username, role in staff.items():
            create_staff(session, username, password, role)
        session.commit()
    port = free_port()
    domain = f"127.0.0.1:{port}"
    app = create_app(node, domain=domain, **app_settings)
    with serve(app, port, lifespan=True) as served, httpx.Client(base_url=served.base_url, timeout=timeout) as http:
        yield NodeApi(app, http, domain, {username: staff_token(http, username, password) for username in staff})
