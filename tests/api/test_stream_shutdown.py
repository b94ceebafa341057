"""Stopping a server with live usage streams open: the streams end as the server begins to stop,
so it stops well within uvicorn's graceful-shutdown bound and logs no cancelled task."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from api.app import create_app
from api.local import Served
from api.staff import create_staff
from ledger.chain import free_port
from node.service import NodeService
from tests.api.clients import bearer, staff_token

PASSWORD = "stream shutdown password"


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the streams' end does not depend on the database."""
    return f"sqlite:///{tmp_path_factory.mktemp('sql')}/node.db"


def test_open_streams_end_when_the_server_stops(node: NodeService, caplog: pytest.LogCaptureFixture) -> None:
    with node.sessions() as session:
        create_staff(session, "viewer.stream", PASSWORD, "viewer")
        session.commit()
    port = free_port()
    served = Served(create_app(node, domain=f"127.0.0.1:{port}"), port)
    served.start(timeout=30)
    caplog.set_level(logging.INFO)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as http:
        token = staff_token(http, "viewer.stream", PASSWORD)
    opened = threading.Barrier(3)
    ended: list[str] = []

    def watch(path: str, **headers: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http, \
                http.stream("GET", path, params={"after": 0}, headers=headers) as stream:
            assert stream.status_code == 200, stream.read()
            lines = stream.iter_lines()
            assert next(lines).startswith((": provledger usage stream", "retry: "))
            opened.wait()
            for _ in lines:
                pass
            ended.append(path)

    watchers = [threading.Thread(target=watch, args=("/stream/uses",), kwargs=bearer(token), daemon=True),
                threading.Thread(target=watch, args=("/dashboard/stream/uses",),
                                 kwargs={"cookie": f"provledger_session={token}"}, daemon=True)]
    for watcher in watchers:
        watcher.start()
    opened.wait(timeout=30)
    # Bounded by less than uvicorn's graceful-shutdown timeout (5 s), after which it cancels
    # the responses still under way and logs their tracebacks.
    served.stop(timeout=4)
    assert not served.alive, "the server waited for its open streams"
    for watcher in watchers:
        watcher.join(timeout=10)
    assert sorted(ended) == ["/dashboard/stream/uses", "/stream/uses"]
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
