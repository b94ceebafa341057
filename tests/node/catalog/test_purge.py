"""Purge with evidence at the node (issue 20): a person's purge writes a successor holding every
other record exactly as it was (CSV in GBK and UTF-8 with a BOM, a quoted field's line break
kept; JSON lines), anchors it and purges the old version on chain naming a salted hash; the
indexer projects ``VersionPurged`` into the catalog; a purge made on chain alone is believed and
the plaintext removed at the next retention step; refusals leave nothing changed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from node.access.delivery.checks import require_anchored_version, require_untampered_source
from node.catalog import purge
from node.catalog.register import register_dataset, register_version
from node.chain.indexer import touched_keys
from node.chain.projections import reproject
from node.errors import Conflict, InvalidInput, NotFound, VersionPurged
from node.models import CatalogVersion, ChainEventRow, DatasetVersion, OutboxEntry
from node.service import NodeService

HEADER = "姓名,身份证号,手机号,备注"
PERSON = "11010519491231002X"
FIRST_GENERATION = "110105491231002"  # the same person's 15-digit number, before the 18-character upgrade
WIDE = PERSON.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
CSV_RECORDS = [
    "司马筠菊,110101199003074573,13800138000,无\n",
    f'张三,{PERSON.lower()},13900139000,"两行\n备注"\n',  # the ID number written in lower case: the same person
    "欧阳娜娜,440305199912310011,13700137000,\"含,逗号\"\n",
    f"张三, {WIDE[:6]} {WIDE[6:]} ,13900139000,复诊\n",  # full-width, spaced: the same person
    f"张三,{FIRST_GENERATION},13900139000,旧证\n",  # the first-generation number: the same person
]
CLASSES = {"姓名": "name", "身份证号": "id_number", "手机号": "mobile"}


def _jsonl() -> tuple[bytes, bytes]:
    rows = [dict(zip(HEADER.split(","), ["a", "110101199003074573", "13800138000", "x"])),
            dict(zip(HEADER.split(","), ["张三", PERSON, "13900139000", "y"])),
            dict(zip(HEADER.split(","), ["b", "440305199912310011", "13700137000", 'an odd quote: "']))]
    rows = [rows[2], rows[1], rows[0]]  # a line with an odd count of quotes right before the person's
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
    return "".join(lines).encode(), "".join(lines[::2]).encode()


def _csv(encoding: str) -> tuple[bytes, bytes]:
    whole = (HEADER + "\n" + "".join(CSV_RECORDS)).encode(encoding)
    kept = (HEADER + "\n" + CSV_RECORDS[0] + CSV_RECORDS[2]).encode(encoding)
    return whole, kept


@pytest.mark.parametrize("kind,encoding", [("csv", "gbk"), ("csv", "utf-8-sig"), ("jsonl", "utf-8")])
def test_a_persons_purge_keeps_every_other_record_as_it_was_and_purges_on_chain(
        kind: str, encoding: str, service: NodeService, tmp_path: Path, database_url: str) -> None:
    whole, kept = _csv(encoding) if kind == "csv" else _jsonl()
    tag = f"{database_url.split(':', 1)[0]}-{kind}-{encoding}"
    folder = service.settings.data_dir / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v1.{kind}"
    service.store.store(io.BytesIO(whole), path)
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code=f"purge-{tag}",
                                   name="people", category="civil", grade=2, update_interval=0, field_classes=CLASSES)
        old = register_version(session, dataset_id=dataset.dataset_id, path=path, encoding=encoding, store=service.store)
        session.commit()
        dataset_id, old_root = dataset.dataset_id, old.content_root
        done = purge.purge_person(session, service.store, dataset_id=dataset_id, id_number=PERSON,
                                  reason="依法删除", salt=purge.subject_salt(service.settings.data_dir))
        session.commit()
        assert done.replaced == [(1, 2)]
        salt = purge.subject_salt(service.settings.data_dir)
        assert done.subject_hash == "0x" + keccak(salt + PERSON.encode()).hex()  # over the 18-character form
        assert {purge.subject_hash(salt, spelled) for spelled in (PERSON.lower(), WIDE, FIRST_GENERATION)} == {
            done.subject_hash}
        successor = session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                                DatasetVersion.number == 2))
        assert successor is not None
        with service.store.open(Path(successor.source_path)) as f:
            assert f.read() == kept  # every other record byte for byte, in the version's encoding
        assert successor.record_count == 2 and successor.encoding == encoding
        purge.remove_purged(session)
    assert not path.exists()
    service.settle()
    raw = bytes.fromhex(dataset_id[2:])
    assert service.ledger.registry.is_purged(raw, 1) and not service.ledger.registry.is_purged(raw, 2)
    assert "0x" + service.ledger.registry.version(raw, 1).content_root.hex() == old_root  # the evidence stays
    with service.sessions() as session:
        event = session.scalar(select(ChainEventRow).where(ChainEventRow.dataset_id == dataset_id,
                                                           ChainEventRow.name == "VersionPurged"))
        assert event is not None and event.args["subjectHash"] == done.subject_hash
        assert PERSON not in json.dumps(event.args) and PERSON.lower() not in json.dumps(event.args)
        entry = session.get(CatalogVersion, (dataset_id, 1))
        assert entry is not None and entry.purged_block == event.block_number
        assert entry.purge_reason == event.args["reasonHash"]
        version = session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                              DatasetVersion.number == 1))
        assert version is not None
        with pytest.raises(VersionPurged):
            require_anchored_version(service.ledger, version)
        with pytest.raises(VersionPurged):
            require_untampered_source(version, store=service.store)


def test_a_purge_on_chain_alone_is_believed_at_the_next_retention_step(service: NodeService, tmp_path: Path,
                                                                      database_url: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(_csv("utf-8")[0])
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id,
                                   code=f"purge-believed-{database_url.split(':', 1)[0]}", name="people",
                                   category="civil", grade=2, update_interval=0, field_classes=CLASSES)
        version = register_version(session, dataset_id=dataset.dataset_id, path=path)
        session.commit()
        dataset_id, version_id = dataset.dataset_id, version.id
    service.settle()
    # Another process of the department (a node restored from a backup missed it) purged it on chain.
    service.ledger.registry.purge_version(bytes.fromhex(dataset_id[2:]), 1, b"\x01" * 32)
    service.indexer.catch_up()
    assert path.exists()
    service.remove_expired_copies()
    assert not path.exists()
    with service.sessions() as session:
        row = session.get(DatasetVersion, version_id)
        assert row is not None and row.purged_at is not None and row.purge_reason == "0x" + "01" * 32


def test_refusals_change_nothing(service: NodeService, tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(_csv("utf-8")[0])
    tag = database_url.split(":", 1)[0]
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code=f"purge-no-{tag}",
                                   name="people", category="civil", grade=2, update_interval=0, field_classes=CLASSES)
        unclassed = register_dataset(session, department=service.settings.department_id, code=f"purge-nc-{tag}",
                                     name="people", category="civil", grade=2, update_interval=0)
        register_version(session, dataset_id=dataset.dataset_id, path=path)
        register_version(session, dataset_id=unclassed.dataset_id, path=path)
        session.commit()
        salt = purge.subject_salt(service.settings.data_dir)
        before = session.scalar(select(func.count()).select_from(OutboxEntry))
        with pytest.raises(InvalidInput, match="holds an ID number"):
            purge.purge_version(session, dataset_id=dataset.dataset_id, number=1, reason=f"删除 {PERSON}")
        session.rollback()
        with pytest.raises(InvalidInput, match="name no ID-number field"):
            purge.purge_person(session, service.store, dataset_id=unclassed.dataset_id, id_number=PERSON,
                               reason="x", salt=salt)
        session.rollback()
        with pytest.raises(NotFound) as missing:
            purge.purge_person(session, service.store, dataset_id=dataset.dataset_id, id_number="110101199003070011",
                               reason="x", salt=salt)
        assert "110101199003070011" not in str(missing.value)  # the ID number is never said back
        session.rollback()
        typo = PERSON[:16] + "3X"  # one digit mistyped: the check character no longer agrees
        with pytest.raises(InvalidInput, match="check character") as refused:
            purge.purge_person(session, service.store, dataset_id=dataset.dataset_id, id_number=typo, reason="x",
                               salt=salt)
        assert refused.value.field == "id_number" and typo not in str(refused.value)
        assert "110105********003X" in str(refused.value)  # masked as a consumer would see it
        session.rollback()
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == before
        assert session.scalar(select(func.count()).select_from(DatasetVersion)
                              .where(DatasetVersion.dataset_id == dataset.dataset_id)) == 1
        purge.purge_version(session, dataset_id=dataset.dataset_id, number=1, reason="retention ended")
        session.commit()
        with pytest.raises(Conflict, match="purged already"):
            purge.purge_version(session, dataset_id=dataset.dataset_id, number=1, reason="again")


def test_a_reorg_undoes_a_purge_the_catalog_showed(session: Session) -> None:
    """A ``VersionPurged`` above the fork no longer marks the catalog's version (its outbox entry
    sends it again); one below the fork stays."""
    def version(number: int, purged_block: int) -> CatalogVersion:
        return CatalogVersion(dataset_id="0x" + "ab" * 32, number=number, content_root="0x" + f"{number:064x}",
                              schema_text="{}", schema_hash="0x" + "00" * 32, size_bytes=1, record_count=1,
                              block_number=5, purged_block=purged_block, purge_reason="0x" + "01" * 32)
    session.add_all([version(1, 8), version(2, 12)])
    session.commit()
    reproject(session, 10, touched_keys([]))
    session.commit()
    kept, undone = (session.get(CatalogVersion, ("0x" + "ab" * 32, n)) for n in (1, 2))
    assert kept is not None and (kept.purged_block, kept.purge_reason) == (8, "0x" + "01" * 32)
    assert undone is not None and (undone.purged_block, undone.purge_reason) == (None, None)
