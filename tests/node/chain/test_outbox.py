"""The durable outbox: accepted writes survive a SIGKILL and land on-chain exactly once.

The node is killed with a fifth of its writes confirmed: of 1,000 writes in `make test`, of
5,000 in `make soak` (``PROVLEDGER_SOAK=1``)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from ledger.clients import AnchorKind
from ledger.events import fetch_events
from node.db import make_engine, migrate, session_factory
from node.models import OutboxEntry
from node.chain.outbox import CONFIRMED, FAILED, enqueue
from node.service import NodeService
from node.settings import NodeSettings
from ledger.compile import PROJECT_ROOT

WRITES = 5000 if os.environ.get("PROVLEDGER_SOAK") == "1" else 1000


def _root(i: int) -> str:
    return "0x" + hashlib.sha256(f"outbox write {i}".encode()).hexdigest()


def _count(sessions, status: str) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == status)) or 0


def _node(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "node", "run", *args],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(900)
def test_sigkilled_node_loses_no_accepted_write_and_sends_none_twice(node_env: dict[str, str]) -> None:
    engine = make_engine(node_env["PROVLEDGER_DATABASE_URL"])
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for i in range(WRITES):
            enqueue(session, key=f"anchor:{i}", kind="anchor",
                    payload={"root": _root(i), "leaf_count": 1, "kind": int(AnchorKind.LIFECYCLE_EVIDENCE)})
        session.commit()

    first = _node(node_env)
    deadline = time.monotonic() + 300
    while _count(sessions, CONFIRMED) < WRITES // 5:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "the node confirmed too little before the kill"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    confirmed_at_kill = _count(sessions, CONFIRMED)
    assert confirmed_at_kill < WRITES, "the kill came too late to test anything"

    second = _node(node_env, "--exit-when-idle")
    _, stderr = second.communicate(timeout=600)
    assert second.returncode == 0, stderr.decode()
    assert _count(sessions, CONFIRMED) == WRITES
    assert _count(sessions, FAILED) == 0

    settings = NodeSettings(**{k.removeprefix("PROVLEDGER_").lower(): v for k, v in node_env.items()})  # type: ignore[arg-type]
    service = NodeService.start(settings)
    try:
        ledger = service.ledger
        head = ledger.w3.eth.block_number
        anchored = Counter(
            "0x" + bytes(e.args["root"]).hex()
            for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head, chunk=5000)
            if e.name == "RootAnchored"
        )
        expected = {_root(i) for i in range(WRITES)}
        assert expected <= set(anchored)
        assert all(anchored[root] == 1 for root in expected)
    finally:
        service.close()
        engine.dispose()


def test_the_same_key_is_accepted_once(node_env: dict[str, str]) -> None:
    engine = make_engine(node_env["PROVLEDGER_DATABASE_URL"])
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        a = enqueue(session, key="k", kind="anchor", payload={"root": _root(-1), "leaf_count": 1, "kind": 0})
        b = enqueue(session, key="k", kind="anchor", payload={"root": _root(-2), "leaf_count": 1, "kind": 0})
        session.commit()
        assert a.id == b.id and b.payload["root"] == _root(-1)
    with pytest.raises(ValueError, match="unknown chain write kind"):
        with sessions() as session:
            enqueue(session, key="x", kind="drop_tables", payload={})
    engine.dispose()
