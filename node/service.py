"""One department's node, wired together in one place from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.chain import connect
from ledger.compile import PROJECT_ROOT, ContractArtifact, load_artifact
from ledger.deploy import SUITE, Ledger, Manifest, department_id
from ledger.tx import TransactionSender, load_keystore
from node.db import make_engine, migrate, session_factory
from node.errors import SettingsInvalid
from node.outbox import OutboxWorker
from node.settings import NodeSettings


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

    @property
    def department(self) -> bytes:
        return department_id(self.settings.department_id)

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
