"""Supervised loops and the rule of backpressure, on their own: a failing step is logged once per
outage and never ends its loop, a hung one shows as stalled, what /health shows of an error
holds no SQL parameters or credentials, and the rule names every reason the node cannot record."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import ChainUnavailable
from ledger.rpc import RpcBatcher
from node.health import ChainStatus, refusals
from node.chain.outbox import Backlog
from node.supervision import Supervised, describe


SECRET = "hunter2"
GONE = f"the chain node at http://operator:{SECRET}@10.0.0.1:8545 went away"


class Flaky:
    """A step that fails as scripted (an exception class per call, None to succeed), then idles."""

    def __init__(self, script: list[type[Exception] | None]) -> None:
        self.script = list(script)
        self.calls = 0
        self.done = threading.Event()

    def __call__(self) -> int:
        self.calls += 1
        if not self.script:
            self.done.set()
            return 0
        failure = self.script.pop(0)
        if failure is not None:
            raise failure(GONE)
        return 1


def test_a_failing_step_is_logged_once_per_outage_and_never_ends_its_loop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="node.supervision")
    step = Flaky([ChainUnavailable] * 4 + [None] + [KeyError] * 3 + [None])
    loop = Supervised("outbox", step, idle=0.01, first_retry=0.001, max_retry=0.004)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert step.done.wait(30), "the loop did not get through its failures"
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "retrying" in r.getMessage()]
    assert [r.getMessage().split(";")[0] for r in warnings] == [
        "outbox: ChainUnavailable: no chain answers at the chain node at http://***@10.0.0.1:8545 went away",
        "outbox: KeyError: 'the chain node at http://***@10.0.0.1:8545 went away'"]
    # An outage is told in one line; a bug also says where it was raised, once.
    assert ["Traceback" in r.getMessage() or " line " in r.getMessage() for r in warnings] == [False, True]
    assert "test_supervision.py" in warnings[1].getMessage()
    assert sum("recovered after" in r.getMessage() for r in caplog.records) == 2
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    shown = loop.health(stall_after=60)
    assert (shown.status, shown.failures) == ("stopped", 0) and "KeyError" in (shown.last_error or "")


def test_the_backoff_doubles_up_to_its_cap() -> None:
    loop = Supervised("indexer", Flaky([ValueError] * 8), first_retry=0.5, max_retry=4.0)
    delays = []
    for _ in range(6):
        delays.append(loop.delay_after(loop.attempt()))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert loop.delay_after(0) == loop.idle and loop.delay_after(3) == 0


def test_a_loop_that_stops_completing_steps_is_stalled_whether_it_fails_or_hangs() -> None:
    release = threading.Event()
    hung = Supervised("indexer", lambda: int(release.wait(30)))
    failing = Supervised("outbox", Flaky([ValueError] * 100), first_retry=0.001, max_retry=0.002)
    stop = threading.Event()
    threads = [threading.Thread(target=loop.run, args=(stop,), daemon=True) for loop in (hung, failing)]
    for thread in threads:
        thread.start()
    try:
        while failing.health(60).failures < 2:
            time.sleep(0.01)
        now = time.monotonic()
        assert hung.health(60, now).status == "starting" and failing.health(60, now).status == "retrying"
        later = now + 61
        assert hung.health(60, later).status == "stalled" and failing.health(60, later).status == "stalled"
    finally:
        stop.set()
        release.set()
        for thread in threads:
            thread.join(timeout=10)
    assert hung.health(60).status == "stopped"


def test_what_an_error_shows_holds_no_sql_parameters_urls_or_credentials() -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT name FROM staff WHERE password = :password"), {"password": "hunter2"})
    shown = describe(caught.value)
    assert shown == "database: OperationalError: no such table: staff", shown
    with pytest.raises(ChainUnavailable) as unreachable:
        RpcBatcher("http://operator:hunter2@127.0.0.1:9", timeout=1).call([("eth_blockNumber", [])])
    shown = describe(unreachable.value)
    assert shown.startswith("ConnectError: ") and "hunter2" not in shown and "127.0.0.1" not in shown, shown


def test_the_rule_names_every_reason_the_node_cannot_record() -> None:
    never_run = {name: Supervised(name, lambda: 0).health(30) for name in ("outbox", "indexer", "monitor")}
    assert {w.status for w in never_run.values()} == {"stopped"}
    found = refusals(ChainStatus(False, error="ConnectionError: Connection refused"), Backlog(1001, 40.0), never_run,
                     database_error="database: OperationalError: database is locked", max_backlog=1000)
    assert found == [
        "the chain does not answer (ConnectionError: Connection refused)",
        "the node's database does not answer (database: OperationalError: database is locked)",
        "1001 chain writes are waiting to be recorded, more than the 1000 this node takes on",
        "the node's outbox is not running",
        "the node's indexer is not running",
    ]
    loops = {name: Supervised(name, lambda: 0) for name in ("outbox", "indexer", "monitor")}
    stop = threading.Event()
    threads = [threading.Thread(target=loop.run, args=(stop,), daemon=True) for loop in loops.values()]
    for thread in threads:
        thread.start()
    try:
        while any(loop.health(30).last_success_age is None for loop in loops.values()):
            time.sleep(0.01)
        running = {name: loop.health(30) for name, loop in loops.items()}
        assert refusals(ChainStatus(True, 12, 1.0), Backlog(1000, 3.0), running, database_error=None,
                        max_backlog=1000) == []
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
