"""One department's node, wired together in one place from its settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ledger.chain import connect
from ledger.clients import AnchorKind
from ledger.compile import PROJECT_ROOT, ContractArtifact, load_artifact
from ledger.deploy import SUITE, Ledger, Manifest, department_id
from ledger.rpc import RpcBatcher
from ledger.tx import TransactionSender, load_keystore
from node.chain.anchoring import due, gather_open_downloads, seal_batch, waiting
from node.audit.completeness import TraceChecker
from node.db import make_engine, migrate, session_factory
from node.access.delivery.retention import sweep
from node.access.delivery.serve import fingerprint_key
from node.errors import CannotRecord, LedgerPaused, SettingsInvalid
from node.governance.state import pause_reason
from node.health import NodeHealth, read_chain, refusals
from node.chain.indexer import CURSOR, Indexer
from node.models import AnchorItem, IndexerCursor, OpenDownload, OutboxEntry
from node.audit.monitor import Monitor
from node.maintenance import announce_running
from node.chain.outbox import OutboxWorker, backlog
from node.datakey import data_key
from node.settings import NodeSettings
from node.store import DataStore, first_encrypted, seal_clear_files
from node.supervision import Supervised, describe
from node.wakeups import wake_on_commit

log = logging.getLogger(__name__)


def load_artifacts(build_dir: Path = PROJECT_ROOT / "build" / "contracts") -> dict[str, ContractArtifact]:
    return {name: load_artifact(name, build_dir) for name in SUITE}


@dataclass
class NodeService:
    settings: NodeSettings
    engine: Engine
    sessions: sessionmaker[Session]
    ledger: Ledger
    sender: TransactionSender
    outbox: OutboxWorker
    store: DataStore
    """Where the node keeps dataset versions and delivered copies, encrypted (:mod:`node.store`)."""
    indexer: Indexer = field(init=False)
    monitor: Monitor = field(init=False)
    traces: TraceChecker = field(init=False)
    workers: dict[str, Supervised] = field(init=False)
    """The background loops :meth:`run` runs, by name."""
    _verdict: tuple[float, list[str]] = field(init=False, default=(float("-inf"), []))
    _running: IO[bytes] = field(init=False)
    """The shared lock that tells maintenance the node runs (:func:`node.maintenance.announce_running`)."""
    _paused: tuple[float, bool] = field(init=False, default=(float("-inf"), False))
    _unhooks: list[Callable[[], None]] = field(init=False)
    """Removes the hooks that wake the outbox and anchoring when work is queued (:mod:`node.wakeups`)."""

    def __post_init__(self) -> None:
        self._running = announce_running(self.settings.data_dir)
        # The monitor reads on from the events it saw, which a reorg may make the indexer undo: a
        # monitor step and the undoing never overlap. Indexing new events may (the monitor reads
        # only what was committed), so under load the monitor does not wait for the index to catch up.
        follow = threading.Lock()
        self.indexer = Indexer(self.sessions, self.ledger, confirmations=self.settings.confirmations,
                               rollback_lock=follow)
        self.monitor = Monitor(self.sessions)
        self.traces = TraceChecker(self.ledger, self.sessions)
        cap = self.settings.retry_cap
        # Idle loops wait longer and longer, never so long that /health would take them for stalled.
        # All the work of the outbox, the monitor and anchoring comes with a wake-up (see
        # node.wakeups; a step that did work wakes the loop that takes its results on): their wait
        # is for what none announces (a dataset gone stale). The indexer's is for other nodes' writes.
        quiet = min(self.settings.idle_max, self.settings.stall_after / 3)
        head_poll = min(self.settings.head_poll, quiet)
        monitor = Supervised("monitor", self._watch, idle=min(0.2, quiet), idle_max=quiet, lock=follow, max_retry=cap)
        indexer = Supervised("indexer", self.indexer.step, idle=min(0.2, head_poll), idle_max=head_poll,
                             wakes=monitor, max_retry=cap)
        outbox = Supervised("outbox", self.outbox.step, idle=min(0.05, quiet), idle_max=quiet, busy=self._sending,
                            wakes=indexer, max_retry=cap)
        anchors = Supervised("anchors", self.seal_due, idle=min(0.2, quiet), idle_max=quiet, busy=self._anchoring,
                             max_retry=cap)
        retention = Supervised("retention", self.remove_expired_copies, idle=quiet, max_retry=cap)
        self.workers = {loop.name: loop for loop in (outbox, indexer, monitor, anchors, retention)}
        self._unhooks = [wake_on_commit(self.sessions, (OutboxEntry,), outbox.nudge),
                         wake_on_commit(self.sessions, (AnchorItem, OpenDownload), anchors.nudge)]
        # Its own batcher: the health read has a bound of its own, and must not queue behind
        # the loops' reads on the Ledger's connections.
        self._probe = RpcBatcher(self.settings.chain_url, timeout=self.settings.health_timeout)

    @property
    def department(self) -> bytes:
        return department_id(self.settings.department_id)

    @property
    def fingerprint_key(self) -> bytes:
        return fingerprint_key(self.settings.data_dir)

    @property
    def deliveries_dir(self) -> Path:
        return self.settings.data_dir / "deliveries"

    # ------------------------------------------------------------ the loops' steps

    def _sending(self) -> bool:
        """Whether writes are open (sent, not yet confirmed): the outbox then keeps looking often."""
        return self.outbox.open_count() > 0

    def _anchoring(self) -> bool:
        """Whether items wait for their anchor batch: anchoring then keeps looking often."""
        with self.sessions() as session:
            return waiting(session)

    def _watch(self) -> int:
        """A monitor step: the events it looked at, so that it reads on at once through a backlog."""
        alerts = self.monitor.step()
        return max(self.monitor.seen, len(alerts))

    def seal_due(self, *, force: bool = False) -> int:
        """Seal every kind of anchor batch that is due (or has anything waiting, with ``force``)."""
        sealed = 0
        with self.sessions() as session:
            gather_open_downloads(session, batch_size=self.settings.open_download_batch,
                                  interval=self.settings.open_download_interval, force=force)
            for kind in AnchorKind:
                batch_size = 1 if force else self.settings.anchor_batch_size
                if due(session, kind, batch_size=batch_size, interval=self.settings.anchor_interval):
                    sealed += seal_batch(session, kind) is not None
            session.commit()
        return sealed

    def remove_expired_copies(self) -> int:
        """Remove the delivered copies past their retention (:mod:`node.access.delivery.retention`)."""
        with self.sessions() as session:
            return sweep(session, keep_after_download=self.settings.delivery_keep_after_download,
                         keep_undownloaded=self.settings.delivery_keep_undownloaded)

    def settle(self, timeout: float = 300.0) -> None:
        """Send everything queued, anchored items included, and index and watch it: for tests,
        demos and ``--exit-when-idle``."""
        self.seal_due(force=True)
        self.outbox.run_until_idle(timeout=timeout)
        self.indexer.catch_up()
        self.monitor.run_until_current()

    def run(self, stop: threading.Event) -> None:
        """Run each background loop in a thread of its own, supervised, until ``stop``."""
        threads = [threading.Thread(target=loop.run, args=(stop,), name=f"node-{name}", daemon=True)
                   for name, loop in self.workers.items()]
        for thread in threads:
            thread.start()
        try:
            stop.wait()
        finally:
            stop.set()
            for loop in self.workers.values():
                loop.nudge()
            for thread in threads:
                thread.join(timeout=30)

    # ------------------------------------------------------------ health and backpressure

    def health(self) -> NodeHealth:
        """The chain (read within ``health_timeout``), the index, the outbox and each loop, with
        every reason the node cannot record uses now."""
        chain = read_chain(self._probe)
        indexed, queued, database_error = None, None, None
        try:
            with self.sessions() as session:
                cursor = session.get(IndexerCursor, CURSOR)
                indexed = cursor.block_number if cursor is not None else None
                queued = backlog(session)
        except SQLAlchemyError as err:
            database_error = describe(err)
        workers = {name: loop.health(self.settings.stall_after) for name, loop in self.workers.items()}
        return NodeHealth(chain, indexed, queued, workers, database_error, refusals(
            chain, queued, workers, database_error=database_error, max_backlog=self.settings.max_backlog))

    def require_can_record(self, fresh_for: float = 1.0) -> None:
        """Refuse work the node could not record now, saying why: see :mod:`node.health`. The
        verdict is read at most once per ``fresh_for`` seconds, not on every write request (it
        costs a chain read and two queries); a chain lost meanwhile fails the request's own
        chain reads, which answer 503 too."""
        read_at, found = self._verdict
        if time.monotonic() - read_at >= fresh_for:
            found = self.health().refusals
            self._verdict = (time.monotonic(), found)
        if found:
            raise CannotRecord("; ".join(found), retry_after=self.settings.retry_after)

    def require_not_paused(self, fresh_for: float = 1.0) -> None:
        """Refuse a write while the coordinator has paused the ledger, with the reason given. A
        ledger found running is read again after ``fresh_for`` seconds (a write taken meanwhile
        waits in the outbox, and a delivery checks the chain itself); one found paused, on every
        request, so that writes are taken again as soon as it resumes."""
        read_at, paused = self._paused
        if paused or time.monotonic() - read_at >= fresh_for:
            paused = self.ledger.consortium.paused()
            self._paused = (time.monotonic(), paused)
        if paused:
            with self.sessions() as session:
                raise LedgerPaused(pause_reason(session))

    @classmethod
    def start(cls, settings: NodeSettings, artifacts: dict[str, ContractArtifact] | None = None) -> NodeService:
        settings.prepare()
        # First: a wrong passphrase or key file is told before anything is opened.
        store = DataStore(data_key(settings.data_dir, settings.data_key_secret(),
                                   lambda: first_encrypted(settings.data_dir)))
        if sealed := seal_clear_files(store, settings.data_dir):
            log.info("encrypted %d files an earlier version kept in clear in %s", sealed, settings.data_dir)
        engine = make_engine(settings.sql_url)
        migrate(engine)
        sessions = session_factory(engine)
        w3 = connect(settings.chain_url)
        account = load_keystore(settings.keystore_path, settings.keystore_passphrase())
        sender = TransactionSender(w3, account, confirmations=settings.confirmations)
        if not settings.manifest_path.is_file():
            raise SettingsInvalid("manifest_path", f"{settings.manifest_path} is not a file")
        manifest = Manifest.load(settings.manifest_path)
        if manifest.chain_id != sender.chain_id:
            raise SettingsInvalid("chain_url", f"chain id {sender.chain_id}, the manifest says {manifest.chain_id}")
        ledger = Ledger(w3, manifest, artifacts or load_artifacts(), sender, check_code=True)
        member = ledger.consortium.department_of(account.address)
        if member != department_id(settings.department_id):
            raise SettingsInvalid("keystore_path", f"{account.address} is no service account of {settings.department_id}")
        outbox = OutboxWorker(sessions, ledger, sender, confirmations=settings.confirmations)
        return cls(settings, engine, sessions, ledger, sender, outbox, store)

    def close(self) -> None:
        for unhook in self._unhooks:
            unhook()
        self._running.close()
        self._probe.close()
        self.ledger.close()
        self.engine.dispose()
