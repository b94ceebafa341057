"""Taking a node's chain away under load: one consumer asking for deliveries over HTTP without
pause, and what the chain and the node's index hold afterwards."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledger.deploy import Ledger
from ledger.events import fetch_events
from node.chainsets import Subject
from node.completeness import Completeness
from node.service import NodeService
from tests.api.clients import bearer


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


def wait_until(check: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return value


def recorded_uses(ledger: Ledger) -> Counter[str]:
    """How many times the chain recorded a use with each evidence hash (0x hex)."""
    head = ledger.w3.eth.block_number
    return Counter("0x" + bytes(e.args["evidenceHash"]).hex()
                   for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head)
                   if e.name == "UseRecorded")


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
