"""Figures on a dataset with 100,000 uses: the indexer catching up on them from an empty
database, the first page of the dataset's trace from that index (against scanning the chain
with ``eth_getLogs``), and the whole trace exported as PROV-JSON.

:func:`trace_chain` fills a local anvil through the real contracts (``recordUses`` batches of
500, pipelined) and starts a department's node service on it with an empty database; the
figures here and in ``scripts.bench_api`` run against that one chain and node.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from prov.model import ProvDocument
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import ids
from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action, Rights, Use
from ledger.compile import PROJECT_ROOT
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.events import ChainEvent, block_ranges, log_from_json
from ledger.rpc import RpcBatcher
from ledger.tx import TransactionSender, write_keystore
from node.audit.prov import dataset_prov, trace_prov_json
from node.chain.indexer import Indexer
from node.db import make_engine, migrate, session_factory
from node.models import ChainEventRow
from node.service import NodeService, load_artifacts
from node.settings import NodeSettings
from node.audit.trace import TraceItem, dataset_trace, every_item
from scripts.bench_figures import Figure, percentile, timed
from scripts.bench_profile import Profiler
from tests.utils.postgres import TemporaryPostgres, postgres_available

DEPARTMENT = "bench"
USES_PER_BATCH = 500
PAGE = 100


@dataclass
class TraceChain:
    """A chain holding one dataset with ``uses`` recorded uses, and a node whose database is
    empty until :func:`bench_indexer` catches it up."""

    chain: LocalChain
    node: NodeService
    dataset_id: str
    auditor: LocalAccount
    uses: int
    fill_seconds: float

    @property
    def ledger(self) -> Ledger:
        return self.node.ledger

    @property
    def addresses(self) -> dict[str, str]:
        return self.node.ledger.manifest.addresses


def _record_uses(owner: Ledger, grant: bytes, uses: int) -> None:
    """``uses`` uses of ``grant`` in pipelined ``recordUses`` batches of 500."""
    sender = owner.sender
    assert sender is not None
    sent = []
    for b in range(0, uses, USES_PER_BATCH):
        batch = [Use(grant, Action.DOWNLOAD, hashlib.sha256(b"trace use %d" % i).digest())
                 for i in range(b, min(b + USES_PER_BATCH, uses))]
        sent.append(owner.usage.submit_uses(hashlib.sha256(b"trace batch %d" % b).digest(), batch,
                                            gas=8_000 * len(batch) + 200_000))
    for s in sent:
        sender.wait(s)
    assert owner.usage.uses_of(grant) == uses


@contextmanager
def trace_chain(uses: int) -> Iterator[TraceChain]:
    """A local anvil with the suite deployed, a dataset with ``uses`` uses on one grant, an
    auditor appointed, and the department's node service started on an empty database."""
    with tempfile.TemporaryDirectory(prefix="provledger-bench-") as tmp, \
            LocalChain(find_anvil(PROJECT_ROOT), accounts=4) as chain:
        artifacts = load_artifacts()
        accounts: list[LocalAccount] = [Account.from_key(k) for k in chain.private_keys]
        coordinator_key, department_key, consumer_key, auditor = accounts
        w3 = chain.web3()
        senders = [TransactionSender(w3, a, poll_interval=0.002) for a in accounts[:3]]
        manifest = deploy_suite(senders[0], artifacts, founders=[FoundingDepartment(
            department_id(DEPARTMENT), "Bench", department_key.address, department_key.address)])
        coordinator, owner, consumer = (Ledger(w3, manifest, artifacts, s) for s in senders)
        coordinator.consortium.appoint_auditor(auditor.address)
        owner.consortium.register_consumer(consumer_key.address)
        dataset = hashlib.sha256(b"bench trace dataset").digest()
        owner.registry.register_dataset(dataset, metadata="{}", category=b"\x02" * 32, grade=1,
                                        update_interval=0, rights=Rights(department_id(DEPARTMENT)))
        dataset = ids.dataset_id(department_id(DEPARTMENT), dataset)
        key = hashlib.sha256(b"bench trace grant").digest()
        consumer.grants.request_access(key, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x00" * 32,
                                       fields=[], actions=Action.mask(Action.DOWNLOAD), duration=10**8, max_uses=uses)
        assert consumer.sender is not None
        grant = ids.grant_id(consumer.sender.address, key)
        owner.grants.approve(grant)
        fill_seconds, _ = timed(lambda: _record_uses(owner, grant, uses))

        root = Path(tmp)
        passphrase = secrets.token_urlsafe(18)
        settings = NodeSettings(  # type: ignore[call-arg]
            _env_file=None, department_id=DEPARTMENT, chain_url=chain.url,
            manifest_path=manifest.save(root / "deployment.json"),
            keystore_path=write_keystore(department_key, root / "keys" / "node.json", passphrase),
            passphrase=SecretStr(passphrase), passphrase_file=None, data_dir=root / "data",
            database_url=f"sqlite:///{root / 'data' / 'node.db'}", confirmations=1,
        )
        node = NodeService.start(settings, artifacts)
        try:
            yield TraceChain(chain, node, "0x" + dataset.hex(), auditor, uses, fill_seconds)
        finally:
            node.close()


# ---------------------------------------------------------------- the indexer


def _raw_logs(setup: TraceChain) -> int:
    """Every log of the suite's contracts since deployment, as JSON: the chain's side of indexing."""
    head = setup.ledger.w3.eth.block_number
    count = 0
    for start, stop in block_ranges(setup.ledger.manifest.deployment_block, head, 2000):
        reply = setup.ledger.rpc.call([("eth_getLogs", [{"address": setup.ledger.events.addresses,
                                                          "fromBlock": hex(start), "toBlock": hex(stop)}])],
                                      timeout=300)[0]
        count += len(reply.result)
    return count


def _catch_up(setup: TraceChain, indexer: Indexer, sessions: sessionmaker[Session], database: str,
              profiler: Profiler | None) -> Figure:
    """One catch-up from an empty database, beside the raw fetch of the same logs just before it."""
    fetch_seconds, logs = timed(lambda: _raw_logs(setup))
    seconds, taken = timed(lambda: profiler.run("indexer", indexer.catch_up) if profiler else indexer.catch_up())
    with sessions() as session:
        rows = session.scalar(select(func.count()).select_from(ChainEventRow)) or 0
    assert rows == taken == logs, (rows, taken, logs)
    return Figure(f"indexer catching up on {taken:,} events (empty {database} database)", taken / seconds,
                  "events/s", logs / fetch_seconds, "eth_getLogs of the same logs as raw JSON",
                  ">= 15,000 events/s" if database == "SQLite" else ">= 8,000 events/s",
                  raw={"events": taken, "seconds": seconds, "raw_fetch_seconds": fetch_seconds,
                       "fill_seconds": setup.fill_seconds})


def bench_indexer(setup: TraceChain, profiler: Profiler, *, postgres: bool = True) -> list[Figure]:
    """``Indexer.catch_up`` from an empty database to the head, on the node's SQLite database (which
    the other parts then read) and, with ``postgres``, on a throwaway PostgreSQL server with the
    node's migrations; each against fetching the same logs as raw JSON alone."""
    figures = [_catch_up(setup, setup.node.indexer, setup.node.sessions, "SQLite", profiler)]
    if not postgres:
        return figures
    if postgres_available() is not None:
        raise SystemExit(f"bench indexer: PostgreSQL is needed ({postgres_available()}); run `make postgres`")
    with TemporaryPostgres() as server:
        engine = make_engine(server.create_database("bench_indexer"))
        try:
            migrate(engine)
            sessions = session_factory(engine)
            indexer = Indexer(sessions, setup.ledger, confirmations=setup.node.settings.confirmations)
            figures.append(_catch_up(setup, indexer, sessions, "PostgreSQL", None))
        finally:
            engine.dispose()
    return figures


# ---------------------------------------------------------------- the first page of a trace


def scan_first_page(rpc: RpcBatcher, ledger: Ledger, dataset_id: str, limit: int, chunk: int = 2000) -> list[ChainEvent]:
    """The dataset's first ``limit`` events without an index: ``eth_getLogs`` from the
    deployment block, ``chunk`` blocks at a time, filtered by the chain node on the dataset id where
    the events index it (first or second topic), until ``limit`` are found; only those are
    decoded. Uses refused on a grant name no dataset, so this finds fewer than the index does."""
    head = int(rpc.call([("eth_blockNumber", [])])[0].result, 16)
    found: list[ChainEvent] = []
    for start, stop in block_ranges(ledger.manifest.deployment_block, head, chunk):
        window = {"address": ledger.events.addresses, "fromBlock": hex(start), "toBlock": hex(stop)}
        replies = rpc.call([("eth_getLogs", [{**window, "topics": [None, dataset_id]}]),
                            ("eth_getLogs", [{**window, "topics": [None, None, dataset_id]}])])
        logs = [log for reply in replies for log in reply.result]
        logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
        for log in logs:
            event = ledger.events.decode(log_from_json(log))
            if event is not None:
                found.append(event)
                if len(found) == limit:
                    return found
    return found


def bench_trace(setup: TraceChain, *, samples: int = 200, scans: int = 5) -> list[Figure]:
    """The first page (100 items) of the dataset's trace from the SQL index, a new session per
    read as the API opens one per request, against scanning the chain for the same page."""

    def from_index() -> list[TraceItem]:
        with setup.node.sessions() as session:
            return dataset_trace(session, setup.addresses, setup.dataset_id, limit=PAGE).items

    for _ in range(5):
        from_index()
    index_ms = [timed(from_index)[0] * 1000 for _ in range(samples)]
    with RpcBatcher(setup.chain.url, timeout=300) as rpc:  # the scan's reads are long: a bound of their own
        scanned = [timed(lambda: scan_first_page(rpc, setup.ledger, setup.dataset_id, PAGE)) for _ in range(scans)]
    scan_ms = [seconds * 1000 for seconds, _ in scanned]
    page, events = from_index(), scanned[0][1]
    assert [(i.block_number, i.log_index) for i in page] == [e.key for e in events], "index and chain disagree"
    raw = {"index_ms": index_ms, "scan_ms": scan_ms, "uses": setup.uses}
    name = f"trace of a dataset with {setup.uses:,} uses: first page of {PAGE}"
    scan = "eth_getLogs scan of the chain"
    return [
        Figure(f"{name}, p50", percentile(index_ms, 50), "ms", percentile(scan_ms, 50), scan, ">= 50x faster",
               speedup=True, raw=raw),
        Figure(f"{name}, p95", percentile(index_ms, 95), "ms", percentile(scan_ms, 95), scan,
               "<= 50 ms, >= 50x faster", speedup=True),
    ]


# ---------------------------------------------------------------- the whole trace as PROV-JSON


def bench_prov(setup: TraceChain, profiler: Profiler, *, library_items: int = 10_000) -> list[Figure]:
    """The dataset's whole trace written as PROV-JSON exactly as ``GET /audit/datasets/{id}/prov``
    streams it (``dataset_prov``: the index read in chunks of plain rows, the text written as it
    is read), every chunk taken and dropped as a client would, against reading the same items
    alone; then the same export again under tracemalloc for its peak memory, beside the size of
    the text (what a writer holding the whole document needs at the least). And, on the first
    ``library_items`` events, the writer against the ``prov`` library building the same document
    (read from what the writer wrote) and writing it as PROV-JSON, which takes too long to run on
    the whole trace here."""
    chain_id = setup.ledger.manifest.chain_id

    def read() -> list[TraceItem]:
        with setup.node.sessions() as session:
            return list(every_item(session, "dataset", setup.dataset_id, setup.addresses))

    def export() -> int:
        with setup.node.sessions() as session:
            return sum(len(chunk.encode()) for chunk in dataset_prov(session, setup.addresses, setup.dataset_id,
                                                                      chain_id=chain_id))

    read_seconds, read_items = timed(read)
    seconds, size = timed(lambda: profiler.run("prov", export))
    tracemalloc.start()
    try:
        export()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    first = read_items[:library_items]
    direct, written = timed(lambda: trace_prov_json(first, subject=setup.dataset_id, chain_id=chain_id))
    convert, document = timed(lambda: ProvDocument.deserialize(content=written, format="json"))
    serialize, _ = timed(lambda: document.serialize(io.StringIO(), format="json"))
    raw = {"events": len(read_items), "seconds": seconds, "read_seconds": read_seconds, "bytes": size,
           "peak_traced_bytes": peak, "library_items": len(first), "direct_seconds": direct,
           "library_convert_seconds": convert, "library_serialize_seconds": serialize}
    name = f"the same trace exported whole as PROV-JSON ({len(read_items):,} events, streamed as GET .../prov)"
    return [
        Figure(name, seconds, "s", read_seconds, "reading the same items from the index alone", "<= 2 s", raw=raw),
        Figure(f"{name}: peak memory (tracemalloc)", peak / 2**20, "MiB", size / 2**20,
               "the size of the text it writes", "reported"),
        Figure(f"PROV-JSON of its first {len(first):,} events: trace_prov_json (no SQL)", direct, "s",
               convert + serialize, "the prov library: the same document built and serialized", "", speedup=True),
    ]
