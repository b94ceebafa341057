"""Batched anchoring: hashes gathered into one Merkle root per interval or per size, the root
sent through the outbox, and every item kept with its inclusion proof.

Open downloads, which anyone may make, cost one light row each (:func:`log_open_download`) and
are anchored many to one item: the Merkle root of their receipts (:func:`gather_open_downloads`),
so that each receipt still proves its download was logged, through that item's proof."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.clients import AnchorKind
from ledger.merkle import MerkleTree, unfold
from node.errors import InvalidInput
from node.models import AnchorBatch, AnchorItem, OpenDownload
from node.chain.outbox import enqueue


def add_item(session: Session, *, kind: AnchorKind, item: str, label: str = "") -> AnchorItem:
    """Queue a 32-byte hash (0x hex) for the next batch of ``kind``."""
    if len(item) != 66 or not item.startswith("0x"):
        raise InvalidInput("item", "must be a 32-byte hash in 0x hex")
    bytes.fromhex(item[2:])
    row = AnchorItem(kind=int(kind), item=item.lower(), label=label)
    session.add(row)
    session.flush()
    return row


def due(session: Session, kind: AnchorKind, *, batch_size: int, interval: float) -> bool:
    """Whether the items waiting for ``kind`` fill a batch, or the oldest waited ``interval`` seconds."""
    waiting, oldest = session.execute(
        select(func.count(AnchorItem.id), func.min(AnchorItem.created_at))
        .where(AnchorItem.batch_id.is_(None), AnchorItem.kind == int(kind))
    ).one()
    if not waiting:
        return False
    if waiting >= batch_size:
        return True
    oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
    return bool(datetime.now(timezone.utc) - oldest_at >= timedelta(seconds=interval))


def seal_batch(session: Session, kind: AnchorKind, *, max_items: int = 1_000_000) -> AnchorBatch | None:
    """Build the tree over the waiting items of ``kind``, store each proof, queue the root."""
    items = session.scalars(
        select(AnchorItem).where(AnchorItem.batch_id.is_(None), AnchorItem.kind == int(kind))
        .order_by(AnchorItem.id).limit(max_items)
    ).all()
    if not items:
        return None
    tree = MerkleTree.from_items([bytes.fromhex(i.item[2:]) for i in items])
    root = "0x" + tree.root.hex()
    existing = session.scalar(select(AnchorBatch).where(AnchorBatch.root == root))
    if existing is not None:
        # The same items in the same order again: their root is anchored (or queued) already.
        batch = existing
    else:
        batch = AnchorBatch(root=root, kind=int(kind), leaf_count=len(items), outbox_key=f"anchor:{root}")
        session.add(batch)
        session.flush()
        enqueue(session, key=batch.outbox_key, kind="anchor",
                payload={"root": root, "leaf_count": len(items), "kind": int(kind)})
    for index, (row, path) in enumerate(zip(items, tree.all_proofs())):
        row.batch_id = batch.id
        row.leaf_index = index
        row.proof = b"".join(unfold(path))
    return batch


# ---------------------------------------------------------------- open downloads


def log_open_download(session: Session, *, dataset_id: str, version: int, content_root: str,
                      downloader: str | None) -> OpenDownload:
    """Log a download of open data (the caller commits); its ``receipt`` is a fresh 32-byte hash
    over the content root and who downloaded it."""
    receipt = hashlib.sha256(f"open {content_root} {downloader or 'anonymous'} {secrets.token_hex(16)}"
                             .encode()).hexdigest()
    row = OpenDownload(dataset_id=dataset_id, version=version, receipt="0x" + receipt, downloader=downloader)
    session.add(row)
    session.flush()
    return row


def waiting(session: Session) -> bool:
    """Whether anything waits to be anchored: an item not in a batch, or an open download not
    rolled into an item."""
    return bool(session.scalar(select(
        select(AnchorItem.id).where(AnchorItem.batch_id.is_(None)).exists()
        | select(OpenDownload.id).where(OpenDownload.anchor_item_id.is_(None)).exists())))


def gather_open_downloads(session: Session, *, batch_size: int, interval: float, force: bool = False
                          ) -> AnchorItem | None:
    """Once ``batch_size`` open downloads wait, or the oldest waited ``interval`` seconds (or
    any wait, with ``force``): the Merkle root of up to ``batch_size`` of their receipts, queued
    as one lifecycle-evidence item, each download pointing at it."""
    waiting, oldest = session.execute(
        select(func.count(OpenDownload.id), func.min(OpenDownload.created_at))
        .where(OpenDownload.anchor_item_id.is_(None))
    ).one()
    if not waiting:
        return None
    oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
    if not force and waiting < batch_size and datetime.now(timezone.utc) - oldest_at < timedelta(seconds=interval):
        return None
    rows = session.scalars(select(OpenDownload).where(OpenDownload.anchor_item_id.is_(None))
                           .order_by(OpenDownload.id).limit(batch_size)).all()
    root = MerkleTree.from_items([bytes.fromhex(r.receipt[2:]) for r in rows]).root
    item = add_item(session, kind=AnchorKind.LIFECYCLE_EVIDENCE, item="0x" + root.hex(),
                    label=f"open downloads #{rows[0].id}-#{rows[-1].id} ({len(rows)})")
    for row in rows:
        row.anchor_item_id = item.id
    return item


def proof_of(row: AnchorItem) -> list[bytes]:
    """The stored proof of an anchored item, as its list of siblings."""
    blob = row.proof or b""
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]
