"""Register -> outbox -> chain -> indexer -> verify, and tampering caught precisely, on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.clients import AnchorKind, Rights
from node.chain.anchoring import add_item, seal_batch
from node.errors import AlreadyExists, InvalidInput
from node.chain.indexer import Indexer
from node.models import AnchorItem, ChainEventRow, DatasetVersion
from node.catalog.register import register_dataset, register_version
from node.service import NodeService
from node.audit.verify import verify_anchor_item, verify_event_row, verify_version_files

CSV = "name,id_number,phone\nLi Lei,110101199003071234,13800138000\nHan Meimei,110101199512121234,13900139000\n"


def _register(service: NodeService, path: Path, code: str = "census") -> DatasetVersion:
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code=code,
                                   name="Census 2026", category="population", grade=2, update_interval=86400)
        version = register_version(session, dataset_id=dataset.dataset_id, path=path, chunk_size=64)
        session.commit()
        return version


def test_registered_version_lands_on_chain_and_in_the_index(service: NodeService, tmp_path: Path) -> None:
    path = tmp_path / "census.csv"
    path.write_text(CSV)
    version = _register(service, path)
    assert version.record_count == 2 and version.schema == ["name", "id_number", "phone"]
    service.outbox.run_until_idle(timeout=60)
    registry = service.ledger.registry
    dataset = bytes.fromhex(version.dataset_id[2:])
    assert registry.version_of_root(dataset, bytes.fromhex(version.content_root[2:])) == 1
    assert registry.dataset(dataset).owner_department == service.department
    Indexer(service.sessions, service.ledger, confirmations=1).catch_up()
    with service.sessions() as session:
        names = session.scalars(select(ChainEventRow.name).where(ChainEventRow.dataset_id == version.dataset_id)).all()
    assert "DatasetRegistered" in names and "VersionAdded" in names
    with service.sessions() as session:
        assert verify_version_files(session, service.ledger, version.id).ok


def test_registering_twice_or_with_a_bad_grade_is_refused(service: NodeService, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(CSV)
    _register(service, path, code="twice")
    with service.sessions() as session:
        with pytest.raises(AlreadyExists):
            register_dataset(session, department=service.settings.department_id, code="twice", name="x",
                             category="c", grade=1, update_interval=0)
        with pytest.raises(InvalidInput, match="grade"):
            register_dataset(session, department=service.settings.department_id, code="bad", name="x",
                             category="c", grade=5, update_interval=0)


def test_one_changed_byte_in_a_file_is_reported_with_its_chunk(service: NodeService, tmp_path: Path) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "people.csv").write_text(CSV * 10)
    (folder / "notes.txt").write_text("collected by the statistics bureau\n")
    version = _register(service, folder, code="tamper-file")
    service.outbox.run_until_idle(timeout=60)
    data = bytearray((folder / "people.csv").read_bytes())
    data[200] ^= 0x01
    (folder / "people.csv").write_bytes(bytes(data))
    report = verify_version_files(service.sessions(), service.ledger, version.id)
    assert not report.ok
    assert report.problems == ["file people.csv chunk 3 (bytes 192-255) differs"]


def test_one_changed_column_in_an_indexed_row_is_reported(service: NodeService, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    version = _register(service, path, code="tamper-row")
    service.outbox.run_until_idle(timeout=60)
    Indexer(service.sessions, service.ledger, confirmations=1).catch_up()
    with service.sessions() as session:
        row = session.scalars(select(ChainEventRow).where(ChainEventRow.name == "VersionAdded",
                                                          ChainEventRow.dataset_id == version.dataset_id)).one()
        assert verify_event_row(session, service.ledger, row.id).ok
        row.args = {**row.args, "recordCount": 999}
        session.commit()
        report = verify_event_row(session, service.ledger, row.id)
    assert report.problems == ["column args.recordCount is 999, the chain says 2"]


def test_one_changed_proof_node_is_reported_by_position(service: NodeService) -> None:
    with service.sessions() as session:
        items = [add_item(session, kind=AnchorKind.DELIVERY_RECEIPTS, item="0x" + f"{i:064x}") for i in range(1, 12)]
        batch = seal_batch(session, AnchorKind.DELIVERY_RECEIPTS)
        session.commit()
        assert batch is not None and batch.leaf_count == 11
        ids = [i.id for i in items]
    service.outbox.run_until_idle(timeout=60)
    with service.sessions() as session:
        assert all(verify_anchor_item(session, service.ledger, i).ok for i in ids)
        victim = session.get(AnchorItem, ids[4])
        assert victim is not None and victim.proof is not None
        proof = bytearray(victim.proof)
        proof[32 * 2 + 5] ^= 0xFF
        victim.proof = bytes(proof)
        session.commit()
        report = verify_anchor_item(session, service.ledger, ids[4])
        assert len(report.problems) == 1 and report.problems[0].endswith("(proof node 2 was changed)")
        assert service.ledger.anchors.verify_inclusion(service.department, bytes.fromhex(batch.root[2:]), bytes.fromhex(victim.item[2:]),
                                                       [victim.proof[i:i + 32] for i in range(0, len(victim.proof), 32)]) is False


def test_rights_default_to_the_registering_department(service: NodeService, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(CSV)
    version = _register(service, path, code="rights")
    service.outbox.run_until_idle(timeout=60)
    rights = service.ledger.registry._call("rightsOf", bytes.fromhex(version.dataset_id[2:]))
    assert Rights(bytes(rights[0])).ownership_holder == service.department


def test_a_version_whose_file_is_gone_fails_verification_saying_so(service: NodeService, tmp_path: Path) -> None:
    path = tmp_path / "gone.csv"
    path.write_text(CSV)
    version = _register(service, path, code="gone")
    service.outbox.run_until_idle(timeout=60)
    path.unlink()
    with service.sessions() as session:
        report = verify_version_files(session, service.ledger, version.id)
    assert not report.ok and "cannot be read" in str(report)
