"""Taking a node's chain away under load: one consumer asking for deliveries over HTTP without
pause, and what the chain and the node's index hold afterwards."""

from __future__ import annotations

import hashlib
import inspect
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from api.app import create_app
from ledger import ids
from ledger.chain import free_port
from ledger.clients import Action
from ledger.deploy import Ledger
from ledger.waiting import wait_for
from ledger.events import fetch_events
from node.access import review
from node.audit.chainsets import Subject
from node.audit.completeness import Completeness
from node.models import Grant
from node.catalog.register import register_dataset, register_version
from node.service import NodeService
from tests.api.clients import bearer, siwe_token
from tests.api.conftest import serve

VERDICT_FRESH_FOR = inspect.signature(NodeService.require_can_record).parameters["fresh_for"].default
LOOPS = ("outbox", "indexer", "monitor", "anchors", "retention")
CSV = "name,phone,visits\n" + "".join(f"Person {i},1380013{i:04d},{i % 5}\n" for i in range(20))


def granted(node: NodeService, consumer: Ledger, folder: Path, *, max_uses: int) -> tuple[str, str]:
    """A dataset of the node's department, anchored, and ``consumer``'s grant on it, approved by
    the node: (dataset id, grant id). The node's background work is not running yet."""
    source = folder / "visits.csv"
    source.write_text(CSV)
    with node.sessions() as session:
        dataset = register_dataset(session, department=node.settings.department_id, code="outage-visits",
                                   name="Visits", category="health", grade=2, update_interval=0,
                                   field_classes={"name": "name", "phone": "mobile"})
        register_version(session, dataset_id=dataset.dataset_id, path=source)
        session.commit()
    node.settle(timeout=120)
    assert consumer.sender is not None
    key = hashlib.sha256(b"outage grant").digest()
    consumer.grants.request_access(key, dataset_id=bytes.fromhex(dataset.dataset_id[2:]), purpose="a test of the ledger",
                                   schema_hash=b"\x00" * 32, fields=["visits"], actions=Action.mask(Action.DOWNLOAD),
                                   duration=3600, max_uses=max_uses)
    grant = "0x" + ids.grant_id(consumer.sender.address, key).hex()

    def indexed() -> bool:
        node.indexer.catch_up()  # to the last block deep enough, which the request may not be yet
        with node.sessions() as session:
            return session.get(Grant, grant) is not None

    wait_until(indexed, "the request in the node's index", 60)
    with node.sessions() as session:
        review.approve(session, node.ledger, node.settings.department_id, grant, reason="for the outage test")
        session.commit()
    node.settle(timeout=120)
    return dataset.dataset_id, grant


@dataclass(frozen=True)
class Site:
    """The node's API served with its background work, healthy, and a consumer signed in."""

    http: httpx.Client
    base_url: str
    token: str
    loops: dict[str, threading.Thread]
    """The threads of the node's loops once it was healthy."""


@contextmanager
def serving(node: NodeService, consumer: LocalAccount, *, healthy_within: float) -> Iterator[Site]:
    port = free_port()
    domain = f"127.0.0.1:{port}"
    with serve(create_app(node, domain=domain), port, lifespan=True) as served, \
            httpx.Client(base_url=served.base_url, timeout=30) as http:
        wait_until(lambda: health(http)[1]["status"] == "ok", "a healthy node", healthy_within)
        yield Site(http, served.base_url, siwe_token(http, consumer, domain, node.ledger.manifest.chain_id),
                   loop_threads())


@dataclass(frozen=True)
class Answer:
    phase: str
    status: int
    body: dict[str, Any]
    retry_after: str | None


@dataclass
class SteadyDeliveries:
    """A consumer asking ``base_url`` for a delivery under ``grant_id`` every ``every`` seconds, in
    a thread of its own, keeping every answer with the phase of the test it came in."""

    base_url: str
    token: str
    grant_id: str
    every: float = 0.05
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def running(self) -> Iterator[SteadyDeliveries]:
        stop = threading.Event()
        thread = threading.Thread(target=self._ask, args=(stop,), name="steady-deliveries", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=60)
            assert not thread.is_alive(), "the delivery client did not stop"

    def _ask(self, stop: threading.Event) -> None:
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            while not stop.is_set():
                phase = self.phase
                response = http.post(f"/grants/{self.grant_id}/deliveries", json={}, headers=bearer(self.token))
                try:
                    body = response.json()
                except ValueError:
                    body = {"raw": response.text}
                with self._lock:
                    self.answers.append(Answer(phase, response.status_code, body, response.headers.get("Retry-After")))
                stop.wait(self.every)

    def seen(self, phase: str | None = None, status: int | None = None) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if (phase is None or a.phase == phase)
                    and (status is None or a.status == status)]

    def accepted(self) -> list[str]:
        """The evidence hash of every delivery answered 201."""
        return [a.body["evidence_hash"] for a in self.seen(status=201)]


def health(http: httpx.Client) -> tuple[int, dict[str, Any]]:
    response = http.get("/health")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def refused_from_now(steady: SteadyDeliveries, http: httpx.Client, timeout: float) -> dict[str, Any]:
    """Called as the chain goes away: the body of /health once it answers 503, and from then on
    (after the node's cached verdict has expired) ``steady``'s answers count as "away". A delivery
    asked in between ("going") may still be accepted: the node refuses from its next verdict, and
    what it accepted it records later, which the tests check for every 201."""
    steady.phase = "going"
    body: dict[str, Any] = wait_until(lambda: refusing(http), "/health answering 503", timeout)
    time.sleep(VERDICT_FRESH_FOR + 0.25)
    steady.phase = "away"
    return body


def refusing(http: httpx.Client) -> dict[str, Any] | None:
    """The body of /health if it answers 503: the node says it cannot record."""
    status, body = health(http)
    return body if status == 503 else None


def loop_threads() -> dict[str, threading.Thread]:
    """The threads of the node's supervised loops, by name (the test runs one node's)."""
    names = {f"node-{name}" for name in LOOPS}
    return {t.name: t for t in threading.enumerate() if t.name in names}


def assert_loops_survived(node: NodeService, before: dict[str, threading.Thread]) -> None:
    """The very threads of before the outage did all the work: none died, none was started again."""
    assert set(before) == {f"node-{name}" for name in LOOPS}
    assert loop_threads() == before and all(t.is_alive() for t in before.values())
    assert {n: node.workers[n].health(node.settings.stall_after).status for n in LOOPS} == {n: "ok" for n in LOOPS}


def assert_refused_fairly(steady: SteadyDeliveries) -> None:
    """Every answer a 201 or a 503, never a 500; every one while the chain was away a 503; every
    503 a JSON error saying why, with a Retry-After."""
    answers = steady.seen()
    assert {a.status for a in answers} <= {201, 503}, [a for a in answers if a.status not in (201, 503)]
    assert steady.seen("away") and all(a.status == 503 for a in steady.seen("away"))
    for refused in steady.seen(status=503):
        assert refused.retry_after and int(refused.retry_after) > 0, refused
        assert refused.body["error"]["code"] in ("cannot_record", "chain_unavailable"), refused
        assert refused.body["error"]["message"], refused


def wait_until(check: Callable[[], Any], what: str, timeout: float) -> Any:
    # every 0.25 s: /health is an anonymous door, rate-limited per address
    return wait_for(lambda: check() or None, timeout=timeout, what=what, interval=0.25,
                    timed_out=lambda: AssertionError(f"not within {timeout:.0f} s: {what}"))


def recorded_uses(ledger: Ledger) -> Counter[str]:
    """How many times the chain recorded a use with each evidence hash (0x hex)."""
    head = ledger.w3.eth.block_number
    return Counter("0x" + bytes(e.args["evidenceHash"]).hex()
                   for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head)
                   if e.name == "UseRecorded")


def published_texts(ledger: Ledger) -> Counter[str]:
    """How many times the chain published each text hash (0x hex)."""
    head = ledger.w3.eth.block_number
    return Counter("0x" + bytes(e.args["textHash"]).hex()
                   for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head)
                   if e.name == "TextPublished")


def settled(node: NodeService) -> bool:
    """Nothing left to send, and the index as near the head as its confirmations let it be."""
    found = node.health()
    lag = found.index_lag
    return bool(found.can_record and found.backlog and found.backlog.open == 0 and lag is not None
                and lag <= max(node.settings.confirmations - 1, 0))


def index_against_chain(node: NodeService, *subjects: Subject) -> list[Completeness]:
    """Each subject's whole trace in the node's index compared with the chain, event by event, up
    to the block the index stands on (one page from the start covers all of it)."""
    return [node.traces.check(subject) for subject in subjects]
