"""What this node writes to the chain: the outbox, anchor batches and their items, open downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, Hash, utcnow


class OutboxEntry(Base):
    """A chain write, committed before it is sent. ``key`` makes it idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(Hash, nullable=True)
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AnchorBatch(Base):
    __tablename__ = "anchor_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    root: Mapped[str] = mapped_column(Hash, unique=True)
    kind: Mapped[int] = mapped_column(Integer)
    leaf_count: Mapped[int] = mapped_column(Integer)
    outbox_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnchorItem(Base):
    """A hash waiting for, or included in, an anchored batch, with its inclusion proof."""

    __tablename__ = "anchor_items"
    __table_args__ = (Index("ix_anchor_items_pending", "batch_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(Hash, index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("anchor_batches.id"), nullable=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    proof: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OpenDownload(Base):
    """A download of open data, logged here and anchored with others as one item
    (:func:`node.chain.anchoring.gather_open_downloads`); ``receipt`` is the leaf the downloader is given."""

    __tablename__ = "open_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(Hash, index=True)
    version: Mapped[int] = mapped_column(Integer)
    receipt: Mapped[str] = mapped_column(Hash, unique=True)
    downloader: Mapped[str | None] = mapped_column(String(42), nullable=True)
    """The signed-in address, or None for the public."""
    anchor_item_id: Mapped[int | None] = mapped_column(ForeignKey("anchor_items.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
