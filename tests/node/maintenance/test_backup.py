"""``node backup`` while the node runs and delivers, ``node restore`` into a new folder, and a node
started from it with the same datasets, grants and trace; a corrupted archive is refused, naming
the member, and a folder that is not empty is never restored into."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import threading
from pathlib import Path

import pytest
from dotenv import dotenv_values
from sqlalchemy import select

from api.cli import main
from ledger.deploy import Ledger
from node.audit.trace import dataset_trace, whole
from node.errors import DeliveryRefused
from node.models import Dataset, Delivery, Grant
from node.access import review
from node.service import NodeService
from node.settings import NodeSettings
from tests.node.access.test_review_delivery import _dataset, _deliver, _request
from tests.node.conftest import PASSPHRASE
from tests.utils.ledgers import Suite
from tests.utils.postgres import TemporaryPostgres


def _granted(service: NodeService, consumer: Ledger, tmp_path: Path, tag: str) -> tuple[str, str]:
    dataset = _dataset(service, tmp_path, f"backup-{tag}")
    grant = _request(consumer, dataset, f"backup {tag}")
    service.indexer.catch_up()
    with service.sessions() as session:
        review.approve(session, service.ledger, service.settings.department_id, grant, reason="for the backup test")
        session.commit()
    service.settle()
    return dataset, grant


def _trace(service: NodeService, dataset: str) -> list[tuple[int, int, str]]:
    with service.sessions() as session:
        return [(i.block_number, i.log_index, i.name) for i in whole(lambda after: dataset_trace(
            session, service.ledger.manifest.addresses, dataset, after=after, limit=100))]


def _state(service: NodeService) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    with service.sessions() as session:
        datasets = [(d.dataset_id, d.name) for d in session.scalars(select(Dataset).order_by(Dataset.dataset_id))]
        grants = [(g.grant_id, g.status, g.uses) for g in session.scalars(select(Grant).order_by(Grant.grant_id))]
    return datasets, grants


def _corrupt(archive: Path, member: str, out: Path) -> None:
    """``archive`` with one byte of ``member`` changed, its manifest as it was."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(out, "w:gz") as target:
        for info in source:
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == member:
                data = bytes([data[0] ^ 1]) + data[1:]
            target.addfile(info, io.BytesIO(data))


def test_a_backup_taken_while_delivering_restores_into_a_node_with_the_same_data(
        service: NodeService, suite: Suite, tmp_path: Path, database_url: str, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    tag = database_url.split(":", 1)[0]
    consumer = suite.consumers[0]
    dataset, grant = _granted(service, consumer, tmp_path, tag)
    stop, delivered = threading.Event(), []
    running = threading.Thread(target=service.run, args=(stop,), daemon=True)
    running.start()

    def deliveries() -> None:
        try:
            for _ in range(6):
                delivered.append(_deliver(service, grant, consumer))
        except DeliveryRefused as err:  # pragma: no cover - told in the assertion below
            delivered.append(err)  # type: ignore[arg-type]

    delivering = threading.Thread(target=deliveries, daemon=True)
    try:
        _deliver(service, grant, consumer)
        delivering.start()
        archive = tmp_path / "backups" / "node.tar.gz"
        assert main(["node", "backup", "--out", str(archive), "--json"]) == 0
        taken = json.loads(capsys.readouterr().out)
        delivering.join(timeout=120)
        assert all(isinstance(d, Path) for d in delivered), delivered
        assert main(["node", "backup", "--out", str(archive)]) == 2  # never overwritten
        assert "exists" in capsys.readouterr().err
    finally:
        stop.set()
        running.join(timeout=60)
    service.settle()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert taken["cursor_block"] is not None and taken["department_id"] == service.settings.department_id
    assert {"deployment.json", "settings.json", f"keys/{service.settings.keystore_path.name}"} <= set(taken["members"])
    assert any(name.startswith("data/deliveries/") for name in taken["members"]), sorted(taken["members"])

    into, options = tmp_path / "restored", []
    if tag.startswith("postgresql"):
        server: TemporaryPostgres = request.getfixturevalue("postgres_server")
        options = ["--database-url", server.create_database(f"restored_{tmp_path.name[-20:].replace('-', '_')}")]
    (into / "x").mkdir(parents=True)
    assert main(["node", "restore", str(archive), "--into", str(into), *options]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    (into / "x").rmdir()
    assert main(["node", "restore", str(archive), "--into", str(into), *options]) == 0
    capsys.readouterr()
    key = into / "keys" / service.settings.keystore_path.name
    assert stat.S_IMODE(key.stat().st_mode) == taken["members"][f"keys/{key.name}"]["mode"]

    values = {k.removeprefix("PROVLEDGER_").lower(): v for k, v in dotenv_values(into / "node.env").items()}
    restored = NodeService.start(NodeSettings(**values, passphrase=PASSPHRASE))  # type: ignore[arg-type]
    try:
        restored.indexer.catch_up()
        assert _state(restored) == _state(service)
        assert _trace(restored, dataset) == _trace(service, dataset) != []
        with restored.sessions() as session:
            copies = session.scalars(select(Delivery)).all()
        assert copies and all(Path(c.path).is_file() and Path(c.path).is_relative_to(into) for c in copies)
        # Kept encrypted, and read again with the data key the backup carried, wrapped.
        assert all(restored.store.sha256(Path(c.path))[1] == c.size != Path(c.path).stat().st_size for c in copies)
    finally:
        restored.close()

    broken = tmp_path / "broken.tar.gz"
    _corrupt(archive, "deployment.json", broken)
    again = tmp_path / "again"
    assert main(["node", "restore", str(broken), "--into", str(again), *options]) == 2
    assert "member deployment.json is corrupted" in capsys.readouterr().err
    assert not again.exists()
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert main(["node", "restore", str(tmp_path / "junk.tar.gz"), "--into", str(again)]) == 2
    assert "junk.tar.gz cannot be read as a backup" in capsys.readouterr().err
    assert not again.exists()
