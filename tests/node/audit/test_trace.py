"""Trace pages from the index: one statement of plain rows per page, the same items as the ORM
reading it replaced (rows as objects, then the texts in a second query), kept here as the
reference."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from eth_utils.address import to_checksum_address
from sqlalchemy import ColumnElement, event, select
from sqlalchemy.orm import Session

from node.audit.trace import (
    TEXT_HASHES, Lineage, Page, TraceItem, consumer_trace, dataset_trace, every_item, lineage, rows, whole,
)
from node.chain.texts import ZERO_HASH, texts
from node.models import ChainEventRow, Lineage as LineageRow, Note

DATASET, OTHER = "0x" + "d1" * 32, "0x" + "d2" * 32
CONSUMER = to_checksum_address("0x" + "ab" * 20)
ADDRESSES = {"AccessGrants": "0x" + "11" * 20, "UsageLog": "0x" + "22" * 20}


def _h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _fill(db: Session, events: int = 250) -> None:
    """Events of two datasets, every fifth naming texts (some held, one the zero hash), one with
    no block time, and a dataset derived from two parents with a child."""
    for n in range(events):
        args: dict[str, object] = {"datasetId": DATASET if n % 3 else OTHER, "sequence": n, "big": str(2**70)}
        if n % 5 == 0:
            args |= {"purposeHash": _h(f"purpose {n}"), "reasonHash": ZERO_HASH, "noteHash": _h("not held"),
                     "reportHash": _h(f"report {n}")}
        db.add(ChainEventRow(
            block_number=100 + n, block_hash=_h(f"block {n}"), tx_hash=_h(f"tx {n}"), log_index=n % 4,
            contract="UsageLog" if n % 2 else "Teleporter", name="UseRecorded" if n % 2 else "AccessRequested",
            args=args, block_time=None if n == 7 else 1_700_000_000 + n, dataset_id=str(args["datasetId"]),
            grant_id=_h("grant") if n % 2 else None, consumer=CONSUMER if n % 4 else None))
        if n % 5 == 0:
            db.add(Note(hash=_h(f"purpose {n}"), text=f"目的 {n}"))
            if n % 10 == 0:
                db.add(Note(hash=_h(f"report {n}"), text=f"report {n}"))
    db.add(Note(hash=ZERO_HASH, text="never shown"))
    db.add_all([LineageRow(child_id=DATASET, parent_id=p, block_number=b) for p, b in ((OTHER, 5), ("0x" + "0f" * 32, 3))])
    db.add(LineageRow(child_id="0x" + "c0" * 32, parent_id=DATASET, block_number=9))
    db.commit()


def _reference(db: Session, where: ColumnElement[bool], addresses: Mapping[str, str], after: int, limit: int) -> Page:
    """The page as the ORM reading made it."""
    found = db.scalars(select(ChainEventRow).where(where, ChainEventRow.id > after)
                       .order_by(ChainEventRow.id).limit(limit + 1)).all()
    known = texts(db, [row.args.get(k) for row in found[:limit] for k in TEXT_HASHES])
    items = [TraceItem(row.id, row.block_number, row.block_hash, row.block_time, row.tx_hash, row.log_index,
                       row.contract, addresses.get(row.contract, ""), row.name, row.args, row.dataset_id,
                       row.grant_id, row.consumer, {k: known[row.args[k]] for k in TEXT_HASHES
                                                    if row.args.get(k) in known})
             for row in found[:limit]]
    return Page(items, items[-1].id if len(found) > limit else None)


def test_pages_are_what_the_orm_reading_gave(session: Session) -> None:
    _fill(session)
    for limit in (1, 7, 100, 1000):
        after: int | None = 0
        while after is not None:
            page = dataset_trace(session, ADDRESSES, DATASET.upper().replace("0X", "0x"), after=after, limit=limit)
            assert page == _reference(session, ChainEventRow.dataset_id == DATASET, ADDRESSES, after, limit)
            after = page.next_after
        mine = consumer_trace(session, ADDRESSES, CONSUMER.lower(), limit=limit)
        assert mine == _reference(session, ChainEventRow.consumer == CONSUMER, ADDRESSES, 0, limit)
    first = dataset_trace(session, ADDRESSES, DATASET, limit=1000).items
    assert {k: v for item in first for k, v in item.texts.items()}, "some texts are shown"
    assert all(set(item.texts) <= {"purposeHash", "reportHash"} for item in first)


def test_a_page_is_one_statement_and_its_lineage_another(session: Session) -> None:
    _fill(session)
    statements: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *args: statements.append(args[2]))

    page = dataset_trace(session, ADDRESSES, DATASET, limit=100)
    family = lineage(session, DATASET)

    assert len(page.items) == 100 and page.next_after is not None
    assert len(statements) == 2
    assert family == Lineage(["0x" + "0f" * 32, OTHER], ["0x" + "c0" * 32])
    assert lineage(session, "0x" + "ee" * 32) == Lineage([], [])


def test_the_whole_trace_without_texts_is_every_item(session: Session) -> None:
    _fill(session)
    everything = list(whole(lambda after: dataset_trace(session, ADDRESSES, DATASET, after=after, limit=30)))

    plain = list(rows(session, "dataset", DATASET, ADDRESSES, limit=1000, texts=False))

    assert [vars(item) | {"texts": {}} for item in everything] == [vars(item) for item in plain]
    assert len(plain) == 250 - len(range(0, 250, 3))
    for chunk in (1, 7, 166, 167, 5000):
        assert list(every_item(session, "dataset", DATASET, ADDRESSES, chunk=chunk)) == plain
