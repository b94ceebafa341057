"""From a delivery's 201 to its use in the owner's live usage stream, while uses load the chain.

A :class:`api.local.LocalDeployment` (anvil, three department nodes serving their APIs on
127.0.0.1): a consumer, signed in with Ethereum at the owner's node, asks for deliveries one
after another (``POST /grants/{id}/deliveries``) and reads ``GET /stream/uses`` (server-sent
events, a consumer sees its own uses) on a connection of its own. Each delivery's latency runs
from its 201 to the stream's event carrying its evidence hash: the use queued in the owner's
outbox, sent, mined, indexed and streamed. Measured first on an idle chain (the baseline), then
while another consumer's uses are queued into the same outbox at ``load_rate`` uses a second."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy.exc import OperationalError

from api.cli.access import decide, request_access
from api.cli.client import Api
from api.cli.datasets import register_dataset
from api.local import LocalDeployment
from ledger.waiting import wait_for
from node.service import NodeService
from scripts.bench_consortium import feed_due
from scripts.bench_figures import Figure, percentile


class Stream:
    """The signed-in consumer's usage stream, read in a thread: evidence hash -> time seen."""

    def __init__(self, api: Api) -> None:
        self.seen: dict[str, float] = {}
        self._api = api
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, name="bench-stream", daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the usage stream did not open in 30 s")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._api.token}"}
        with httpx.Client(base_url=self._api.url, timeout=httpx.Timeout(10.0, read=None)) as http:
            with http.stream("GET", "/stream/uses", headers=headers) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    self._ready.set()
                    if self._stop.is_set():
                        return
                    if line.startswith("data: "):
                        self.seen.setdefault(json.loads(line[6:])["evidence_hash"], time.perf_counter())


def _feed(node: NodeService, grant: bytes, rate: int, stop: threading.Event, locked: list[str]) -> int:
    """Queue uses of ``grant`` at ``rate`` into ``node``'s outbox, in full batches, until ``stop``.
    A database too busy to take them (SQLite's write lock held past its 30 s timeout) is noted
    in ``locked`` and tried again: the load goes on, and the figure says it happened."""
    start, fed = time.time(), 0
    while not stop.wait(0.02):
        try:
            fed = feed_due(node, grant, rate, start, fed, tag="latency load")
        except OperationalError as err:
            locked.append(f"{time.time() - start:.1f} s: {str(err.orig)[:100]}")
    return fed


def _deliveries(api: Api, grant: str, stream: Stream, count: int, timeout: float = 120.0) -> list[float]:
    """Seconds from each delivery's 201 to its use in ``stream``."""
    answered: dict[str, float] = {}
    for _ in range(count):
        delivery = api.call("POST", f"/grants/{grant}/deliveries", json={})
        answered[delivery["evidence_hash"]] = time.perf_counter()
        time.sleep(0.1)
    deadline = time.perf_counter() + timeout
    while set(answered) - set(stream.seen) and time.perf_counter() < deadline:
        time.sleep(0.1)
    return [stream.seen[e] - t for e, t in answered.items() if e in stream.seen]


def bench_latency(deliveries: int, load_rate: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="provledger-bench-latency-") as tmp, \
            LocalDeployment(departments=3) as local:
        owner = local.departments[0]
        staff = Api(owner.url)
        staff.sign_in_staff(owner.username, owner.password)
        table = Path(tmp) / "visits.csv"
        table.write_text("region,visits\n" + "".join(f"r{i},{i * 7}\n" for i in range(100)))
        dataset, _, _ = register_dataset(staff, table, code="latency", name="Latency", category="health", grade=2,
                                         interval=86_400, field_classes={}, rules=[], key_fields=[])
        apis = [Api(owner.url) for _ in local.consumers[:2]]
        grants = []
        for api, consumer, uses in zip(apis, local.consumers, (2 * deliveries, 10**9)):
            api.sign_in_siwe(consumer.account)
            grants.append(request_access(api, consumer.account, dataset["dataset_id"], purpose="latency bench",
                                         fields=["visits"], uses=uses, days=1))
        for grant in grants:
            wait_for(lambda: True if any(q["grant_id"] == grant for q in staff.call("GET", "/review/queue")) else None,
                     timeout=60, what="the request in the owner's review queue", interval=0.2)
            decide(staff, grant, reason="bench")
        stop = threading.Event()
        loaded: list[float] = []
        fed: list[int] = []
        locked: list[str] = []
        with Stream(apis[0]) as stream:
            idle = _deliveries(apis[0], grants[0], stream, deliveries)
            feeder = threading.Thread(target=lambda: fed.append(_feed(local.node(owner.code), bytes.fromhex(
                grants[1][2:]), load_rate, stop, locked)), name="bench-load", daemon=True)
            feeder.start()
            try:
                time.sleep(2)  # the load under way before the first delivery
                loaded = _deliveries(apis[0], grants[0], stream, deliveries)
            finally:
                stop.set()
                feeder.join(timeout=30)
        for api in [staff, *apis]:
            api.close()
    raw = {"deliveries": deliveries, "load_rate": load_rate, "load_uses_fed": fed[0] if fed else 0,
           "idle_seconds": idle, "loaded_seconds": loaded, "feed_locked_out": locked,
           "idle_p95": percentile(idle, 95), "loaded_p50": percentile(loaded, 50)}
    name = f"delivery 201 -> its use in the owner's usage stream, {load_rate:,} uses/s queued alongside (local chain)"
    return [
        Figure(f"{name}, p50", percentile(loaded, 50), "s", percentile(idle, 50), "idle chain, p50", "—", raw=raw),
        Figure(f"{name}, p95", percentile(loaded, 95), "s", percentile(idle, 95), "idle chain, p95", "—"),
    ]
