"""One department's node, wired together in one place from its settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.chain import connect
from ledger.clients import AnchorKind
from ledger.errors import ChainUnavailable
from ledger.compile import PROJECT_ROOT, ContractArtifact, load_artifact
from ledger.deploy import SUITE, Ledger, Manifest, department_id
from ledger.tx import TransactionSender, load_keystore
from node.anchoring import due, gather_open_downloads, seal_batch
from node.completeness import TraceChecker
from node.db import make_engine, migrate, session_factory
from node.delivery.serve import fingerprint_key
from node.errors import SettingsInvalid
from node.indexer import Indexer
from node.monitor import Monitor
from node.outbox import OutboxWorker
from node.settings import NodeSettings

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
    indexer: Indexer = field(init=False)
    monitor: Monitor = field(init=False)
    traces: TraceChecker = field(init=False)

    def __post_init__(self) -> None:
        self.indexer = Indexer(self.sessions, self.ledger, confirmations=self.settings.confirmations)
        self.monitor = Monitor(self.sessions)
        self.traces = TraceChecker(self.ledger, self.sessions)

    @property
    def department(self) -> bytes:
        return department_id(self.settings.department_id)

    @property
    def fingerprint_key(self) -> bytes:
        return fingerprint_key(self.settings.data_dir)

    @property
    def deliveries_dir(self) -> Path:
        return self.settings.data_dir / "deliveries"

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

    def tick(self) -> int:
        """One round of the node's background work besides the outbox: seal due anchor batches,
        index the next confirmed blocks, raise alerts on what was indexed. Returns work done."""
        return self.seal_due() + self.indexer.step() + len(self.monitor.step())

    def settle(self, timeout: float = 300.0) -> None:
        """Send everything queued, anchored items included, and index and watch it: for tests,
        demos and ``--exit-when-idle``."""
        self.seal_due(force=True)
        self.outbox.run_until_idle(timeout=timeout)
        self.indexer.catch_up()
        self.monitor.run_until_current()

    def run(self, stop: threading.Event, idle_sleep: float = 0.2) -> None:
        """Run the outbox in a thread and the rest of the background work here, until ``stop``."""
        sender = threading.Thread(target=self.outbox.run, args=(stop,), name="outbox", daemon=True)
        sender.start()
        try:
            while not stop.is_set():
                try:
                    busy = self.tick()
                except ChainUnavailable as err:
                    log.warning("chain unavailable, waiting: %s", err)
                    busy = 0
                if not busy:
                    stop.wait(idle_sleep)
        finally:
            stop.set()
            sender.join(timeout=30)

    @classmethod
    def start(cls, settings: NodeSettings, artifacts: dict[str, ContractArtifact] | None = None) -> NodeService:
        settings.prepare()
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
        return cls(settings, engine, sessions, ledger, sender, outbox)

    def close(self) -> None:
        self.engine.dispose()
