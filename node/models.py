"""The node's SQL tables (SQLAlchemy 2). Hashes are 0x-prefixed hex; lists of hashes
(chunk digests, proofs) are their 32-byte values concatenated."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, PrimaryKeyConstraint,
    String, Text, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Hash = String(66)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


# ---------------------------------------------------------------- datasets


class Dataset(Base):
    __tablename__ = "datasets"

    dataset_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_department: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(64))
    grade: Mapped[int] = mapped_column(Integer)
    update_interval: Mapped[int] = mapped_column(BigInteger)
    metadata_hash: Mapped[str] = mapped_column(Hash)
    catalog: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parents: Mapped[list[str]] = mapped_column(JSON, default=list)
    field_classes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The class of each personal-data field (``node.fields.FieldClass`` values)."""
    key_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    quality_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    encoding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The text encoding the owner declared for the dataset's versions; detected per version when None."""
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[DatasetVersion]] = relationship(back_populates="dataset", order_by="DatasetVersion.id")


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "content_root"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.dataset_id"), index=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    """The version's number on-chain: versions are anchored in the order they are registered."""
    content_root: Mapped[str] = mapped_column(Hash)
    schema_hash: Mapped[str] = mapped_column(Hash)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    record_count: Mapped[int] = mapped_column(BigInteger)
    source_path: Mapped[str] = mapped_column(String(1024))
    chunk_size: Mapped[int] = mapped_column(Integer)
    schema: Mapped[list[str]] = mapped_column(JSON, default=list)
    encoding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """A tabular file's text encoding (``node.formats.ENCODINGS``), declared or detected; None otherwise."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
    files: Mapped[list[FileRoot]] = relationship(back_populates="version", order_by="FileRoot.id")


class FileRoot(Base):
    __tablename__ = "file_roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(Hash)
    chunk_digests: Mapped[bytes] = mapped_column(LargeBinary)

    version: Mapped[DatasetVersion] = relationship(back_populates="files")


class CatalogDataset(Base):
    """Every department's dataset as the chain says it (``DatasetRegistered``, ``MetadataUpdated``),
    indexed on every node: the owner is the event's, the metadata the text the contract hashed."""

    __tablename__ = "catalog_datasets"

    dataset_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    owner_department: Mapped[str] = mapped_column(Hash, index=True)
    """The owner department's bytes32 id, as 0x hex."""
    registrant: Mapped[str] = mapped_column(String(42))
    category: Mapped[str] = mapped_column(Hash)
    grade: Mapped[int] = mapped_column(Integer)
    update_interval: Mapped[int] = mapped_column(BigInteger)
    parents: Mapped[list[str]] = mapped_column(JSON, default=list)
    metadata_text: Mapped[str] = mapped_column(Text)
    metadata_hash: Mapped[str] = mapped_column(Hash)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_block: Mapped[int] = mapped_column(BigInteger, index=True)
    registered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The registering block's time, in seconds since the epoch."""

    versions: Mapped[list[CatalogVersion]] = relationship(
        order_by="CatalogVersion.number", primaryjoin="CatalogDataset.dataset_id == foreign(CatalogVersion.dataset_id)",
        viewonly=True)


class CatalogVersion(Base):
    """A version of any department's dataset as ``VersionAdded`` says it, with its schema text."""

    __tablename__ = "catalog_versions"
    __table_args__ = (PrimaryKeyConstraint("dataset_id", "number"),)

    dataset_id: Mapped[str] = mapped_column(Hash)
    number: Mapped[int] = mapped_column(Integer)
    content_root: Mapped[str] = mapped_column(Hash)
    schema_text: Mapped[str] = mapped_column(Text)
    schema_hash: Mapped[str] = mapped_column(Hash)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    record_count: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    anchored_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The anchoring block's time, in seconds since the epoch."""


# ---------------------------------------------------------------- outbox and anchoring


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


# ---------------------------------------------------------------- the index of the chain


class IndexedBlock(Base):
    """Each block the indexer took events from, to notice when the chain below it changes."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Hash)
    parent_hash: Mapped[str] = mapped_column(Hash)


class ChainEventRow(Base):
    """One event of the contracts. ``id`` follows chain order, so it is the cursor of traces;
    ``dataset_id`` and ``consumer`` are what traces select on (a refused use gets its grant's
    dataset, a grant's events their grantee)."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index"),
        Index("ix_chain_events_dataset_trace", "dataset_id", "id"),
        Index("ix_chain_events_consumer_trace", "consumer", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(Hash)
    tx_hash: Mapped[str] = mapped_column(Hash, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(Hash, nullable=True, index=True)
    grant_id: Mapped[str | None] = mapped_column(Hash, nullable=True, index=True)
    consumer: Mapped[str | None] = mapped_column(String(42), nullable=True)


class Grant(Base):
    __tablename__ = "grants"

    grant_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(Hash, index=True)
    grantee: Mapped[str] = mapped_column(String(42), index=True)
    status: Mapped[str] = mapped_column(String(24))
    purpose_hash: Mapped[str] = mapped_column(Hash)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The field names the grant leaves in the clear, as requested on chain; every other is masked."""
    schema_hash: Mapped[str | None] = mapped_column(Hash, nullable=True)
    fields_hash: Mapped[str | None] = mapped_column(Hash, nullable=True)
    actions: Mapped[int] = mapped_column(Integer)
    duration: Mapped[int] = mapped_column(BigInteger)
    max_uses: Mapped[int] = mapped_column(BigInteger)
    uses: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    price_per_use: Mapped[str] = mapped_column(String(40), default="0")
    requested_block: Mapped[int] = mapped_column(BigInteger)


class Use(Base):
    __tablename__ = "uses"
    __table_args__ = (UniqueConstraint("block_number", "log_index"), Index("ix_uses_dataset_block", "dataset_id", "block_number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grant_id: Mapped[str] = mapped_column(Hash, index=True)
    dataset_id: Mapped[str | None] = mapped_column(Hash, nullable=True)
    actor: Mapped[str] = mapped_column(String(42), index=True)
    action: Mapped[int] = mapped_column(Integer)
    evidence_hash: Mapped[str] = mapped_column(Hash, index=True)
    sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refused: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(Hash)


class QualityIssue(Base):
    __tablename__ = "quality_issues"

    issue_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(Hash, index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    repaired_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opened_block: Mapped[int] = mapped_column(BigInteger)


class Lineage(Base):
    """Which dataset was derived from which, for every dataset on the chain, not only ours."""

    __tablename__ = "lineage"
    __table_args__ = (PrimaryKeyConstraint("child_id", "parent_id"),)

    child_id: Mapped[str] = mapped_column(Hash)
    parent_id: Mapped[str] = mapped_column(Hash, index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Statement(Base):
    """A settlement statement: the uses of one consumer's grants on our datasets in a period."""

    __tablename__ = "statements"

    statement_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    owner_department: Mapped[str] = mapped_column(String(64))
    consumer: Mapped[str] = mapped_column(String(42), index=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    statement_hash: Mapped[str] = mapped_column(Hash)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---------------------------------------------------------------- review, delivery, quality, monitor


class Note(Base):
    """The text behind a hash written on-chain (a rejection's reason, a repair note, a quality
    report): written here, or read from a ``TextPublished`` event whose hash was checked."""

    __tablename__ = "notes"

    hash: Mapped[str] = mapped_column(Hash, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The block of the first ``TextPublished`` event indexed for it; None: not on chain (yet)."""


class Delivery(Base):
    """A copy of a dataset version made for one grant: its fingerprint id, what was delivered,
    and the use that records it on-chain."""

    __tablename__ = "deliveries"

    delivery_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    grant_id: Mapped[str] = mapped_column(Hash, index=True)
    dataset_id: Mapped[str] = mapped_column(Hash, index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    consumer: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The text encoding of the copy (before any encryption): the source's or UTF-8, as the consumer asked."""
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    rows: Mapped[int] = mapped_column(BigInteger)
    fingerprint_bits: Mapped[int] = mapped_column(BigInteger)
    plain_sha256: Mapped[str] = mapped_column(Hash)
    evidence_hash: Mapped[str] = mapped_column(Hash, index=True)
    """The hash of exactly the bytes delivered (the ciphertext when encrypted), recorded on-chain."""
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(1024))
    outbox_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QualityReportRow(Base):
    __tablename__ = "quality_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    report_hash: Mapped[str] = mapped_column(Hash, index=True)
    issue_id: Mapped[str | None] = mapped_column(Hash, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertRule(Base):
    """An alert rule; ``threshold`` and ``window_seconds`` mean what the kind says they mean."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), unique=True)
    threshold: Mapped[float] = mapped_column(default=0.0)
    window_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    """What makes two sightings one alert (e.g. the rule and the grant)."""
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(1000))
    dataset_id: Mapped[str | None] = mapped_column(Hash, nullable=True, index=True)
    grant_id: Mapped[str | None] = mapped_column(Hash, nullable=True, index=True)
    consumer: Mapped[str | None] = mapped_column(String(42), nullable=True)
    event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Watermark(Base):
    """How far a follower of the index (the monitor) has read, by ``chain_events.id``."""

    __tablename__ = "watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


# ---------------------------------------------------------------- people signing in to the node


STAFF_ROLES = ("admin", "reviewer", "steward", "viewer")


class StaffAccount(Base):
    """A member of the department's staff, who signs in to this node with a password and acts
    within a role: ``admin`` (manages staff, may do everything), ``reviewer`` (review decisions,
    freezes), ``steward`` (datasets, versions, quality, statements) or ``viewer`` (reads)."""

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint(f"role IN {STAFF_ROLES!r}", name="ck_staff_accounts_role"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised when the password changes or the account is disabled: sessions issued before end."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignInNonce(Base):
    """A spent single-use secret (a Sign-In with Ethereum nonce, a login link), by the SHA-256 of
    its bytes, kept until it expires (:mod:`api.nonces`): secrets handed out are not stored."""

    __tablename__ = "sign_in_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    address: Mapped[str | None] = mapped_column(String(42), nullable=True)


class IndexerCursor(Base):
    __tablename__ = "indexer_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
