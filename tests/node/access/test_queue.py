"""The facts a review queue (and the issue list) shows of each dataset: this department's own
record, else the believed catalog entry, read once for a whole page rather than once per item."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from node.access.queue import CatalogFacts, catalog_facts
from node.catalog.texts import metadata_text, text_hash
from node.models import CatalogDataset, Dataset

OWN = "0x" + "01" * 32
UNKNOWN = "0x" + "ff" * 32


def _indexed(n: int) -> str:
    return "0x" + f"{n + 16:02x}" * 32


def _catalog(db: Session, dataset_id: str, name: str, *, edited: bool = False) -> None:
    text = metadata_text(name=name, category="population", grade=2, update_interval=86400, department="civil",
                         catalog={}, field_classes={"身份证号": "id_number"}, key_fields=[])
    db.add(CatalogDataset(
        dataset_id=dataset_id, owner_department="0x" + b"civil".ljust(32, b"\0").hex(), registrant="0x" + "00" * 20,
        category="0x" + b"population".ljust(32, b"\0").hex(), grade=2, update_interval=86400, parents=[],
        metadata_text=text.replace(name, "edited") if edited else text, metadata_hash=text_hash(text),
        registered_block=1))


def test_facts_come_from_the_own_record_else_a_believed_catalog_entry(session: Session) -> None:
    session.add(Dataset(dataset_id=OWN, name="低保名单", owner_department="civil", category="welfare", grade=2,
                        update_interval=86400, metadata_hash="0x" + "00" * 32, field_classes={"姓名": "name"}))
    _catalog(session, OWN, "the index's older name")
    _catalog(session, _indexed(0), "户籍人口")
    _catalog(session, _indexed(1), "改过的", edited=True)
    session.commit()

    facts = catalog_facts(session, [OWN, _indexed(0), _indexed(1), UNKNOWN])

    assert facts == {OWN: CatalogFacts("低保名单", "welfare", {"姓名": "name"}),
                     _indexed(0): CatalogFacts("户籍人口", "population", {"身份证号": "id_number"})}
    assert catalog_facts(session, []) == {}


def test_facts_for_a_page_take_as_many_queries_as_for_one_item(session: Session) -> None:
    for n in range(30):
        _catalog(session, _indexed(n), f"数据集 {n}")
    session.commit()
    statements: list[str] = []
    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", lambda *args: statements.append(args[2]))

    one = catalog_facts(session, [_indexed(0)])
    for_one = len(statements)
    page = catalog_facts(session, [_indexed(n) for n in range(30)])

    assert len(one) == 1 and len(page) == 30
    assert len(statements) - for_one == for_one
