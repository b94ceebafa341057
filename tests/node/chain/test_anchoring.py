"""Batched anchoring beyond one sealed batch (tests/node/test_node_flow.py seals one): items too
many for one batch are sealed over several, each proof checks on chain, and open downloads are
gathered many to one item whose receipts each prove their download was logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger.clients import AnchorKind
from ledger.merkle import MerkleTree, verify_inclusion
from node.chain.anchoring import add_item, due, gather_open_downloads, log_open_download, proof_of, seal_batch
from node.errors import InvalidInput
from node.models import AnchorBatch, AnchorItem, OpenDownload
from node.service import NodeService

KIND = AnchorKind.DELIVERY_RECEIPTS


def on_chain(service: NodeService, item_id: int) -> bool:
    """Whether the item's stored proof leads, in the anchor contract, to its batch's root."""
    with service.sessions() as session:
        item = session.get(AnchorItem, item_id)
        assert item is not None and item.batch_id is not None
        batch = session.get(AnchorBatch, item.batch_id)
        assert batch is not None
        return service.ledger.anchors.verify_inclusion(service.department, bytes.fromhex(batch.root[2:]),
                                                      bytes.fromhex(item.item[2:]), proof_of(item))


def test_an_item_that_is_no_32_byte_hash_in_0x_hex_is_refused_and_a_batch_is_due_when_full_or_old(
        service: NodeService) -> None:
    with service.sessions() as session:
        for wrong in ("0x1234", "ab" * 33):
            with pytest.raises(InvalidInput) as refused:
                add_item(session, kind=KIND, item=wrong)
            assert refused.value.field == "item"
        assert not due(session, KIND, batch_size=2, interval=0)  # nothing waits
        add_item(session, kind=KIND, item="0x" + "01" * 32)
        assert not due(session, KIND, batch_size=2, interval=3600)
        assert due(session, KIND, batch_size=2, interval=0)
        add_item(session, kind=KIND, item="0x" + "02" * 32)
        assert due(session, KIND, batch_size=2, interval=3600)
        assert not due(session, AnchorKind.LIFECYCLE_EVIDENCE, batch_size=1, interval=0)  # kinds wait apart


def test_items_beyond_one_batch_are_sealed_into_the_next_and_each_proof_checks_on_chain(
        service: NodeService) -> None:
    with service.sessions() as session:
        ids = [add_item(session, kind=KIND, item="0x" + f"{i:064x}").id for i in range(1, 8)]
        first = seal_batch(session, KIND, max_items=4)
        second = seal_batch(session, KIND, max_items=4)
        assert seal_batch(session, KIND) is None  # nothing left
        assert first is not None and second is not None
        assert (first.leaf_count, second.leaf_count) == (4, 3) and first.root != second.root
        session.commit()
    service.outbox.run_until_idle(timeout=60)
    assert all(on_chain(service, i) for i in ids)
    with service.sessions() as session:  # an item checked against the other batch's root fails
        item = session.get(AnchorItem, ids[0])
        assert item is not None
        assert not service.ledger.anchors.verify_inclusion(service.department, bytes.fromhex(second.root[2:]),
                                                          bytes.fromhex(item.item[2:]), proof_of(item))


def test_open_downloads_are_gathered_into_one_item_that_each_receipt_proves_and_the_chain_anchors(
        service: NodeService) -> None:
    with service.sessions() as session:
        downloads = [log_open_download(session, dataset_id="0x" + "aa" * 32, version=1, content_root="0x" + "bb" * 32,
                                       downloader=who) for who in ("0x" + "cc" * 20, None, None)]
        assert len({d.receipt for d in downloads}) == 3  # two anonymous downloads still differ
        assert gather_open_downloads(session, batch_size=10, interval=3600) is None  # not due yet
        item = gather_open_downloads(session, batch_size=10, interval=3600, force=True)
        assert item is not None and item.kind == int(AnchorKind.LIFECYCLE_EVIDENCE)
        rows = session.scalars(select(OpenDownload).where(OpenDownload.anchor_item_id == item.id)
                               .order_by(OpenDownload.id)).all()
        assert [r.id for r in rows] == [d.id for d in downloads]
        tree = MerkleTree.from_items([bytes.fromhex(r.receipt[2:]) for r in rows])
        for index, row in enumerate(rows):  # raises if a receipt is not under the item
            verify_inclusion(bytes.fromhex(item.item[2:]), bytes.fromhex(row.receipt[2:]), tree.proof(index))
        assert gather_open_downloads(session, batch_size=1, interval=0, force=True) is None  # all gathered
        assert seal_batch(session, AnchorKind.LIFECYCLE_EVIDENCE) is not None
        item_id = item.id
        session.commit()
    service.outbox.run_until_idle(timeout=60)
    assert on_chain(service, item_id)
