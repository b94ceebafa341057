"""Texts behind hashes: published through the outbox before the write naming them, indexed on
every node from the chain once their hash is computed again, refused when they hold personal data.
One node start (per database) for all of it: starting a node is what costs here."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger import ids
from node.catalog.texts import text_hash
from node.chain import texts
from node.errors import InvalidInput
from node.models import ChainEventRow, Note, OutboxEntry
from node.service import NodeService
from tests.utils.ledgers import Suite


def test_texts_are_published_before_their_write_indexed_from_the_chain_checked_and_kept_free_of_personal_data(
        service: NodeService, suite: Suite) -> None:
    with service.sessions() as session:
        # Refused: personal numbers and oversized texts never reach the outbox.
        for text, found in (("核查 11010519491231002X", "an ID number"), ("回访 138-0013-8000", "a mobile number"),
                            ("x" * 8193, "1 to 8192 bytes")):
            with pytest.raises(InvalidInput, match=found):
                texts.publish(session, text, field="note")
        assert session.scalar(select(OutboxEntry)) is None

        # Kept and queued, once, before anything that names it; no text is the zero hash.
        digest = texts.publish(session, "  用途与申请不符  ")
        assert digest == text_hash("用途与申请不符") and texts.publish(session, "用途与申请不符") == digest
        assert texts.publish(session, " ") == texts.ZERO_HASH
        entries = list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))
        assert [(e.kind, e.payload["text_hash"]) for e in entries] == [("publish_text", digest)]

        # A TextPublished whose text does not hash to its hash is not believed.
        claimed = text_hash("the reason given")
        texts.text_published(session, ChainEventRow(name="TextPublished", block_number=1,
                                                    args={"textHash": claimed, "text": "another reason"}))
        assert session.get(Note, claimed) is None
        session.rollback()

    # Published by another account: the indexer fills this node's notes, and keeping the same text
    # here queues no second publication.
    text = "复核通过：第3、7行已更正"
    suite.consumers[0].anchors.publish_text(text)
    service.indexer.catch_up()
    with service.sessions() as session:
        note = session.get(Note, "0x" + ids.text_hash(text).hex())
        assert note is not None and note.text == text and note.published_block is not None
        assert texts.publish(session, text) == note.hash
        queued = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == "publish_text")).all()
        assert note.hash not in {e.payload["text_hash"] for e in queued}
