"""Review, delivery, quality and the monitor: texts behind hashes, deliveries, quality reports,
alert rules, alerts, watermarks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, Hash, utcnow


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
    fingerprint_key_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    """Which fingerprint key marked the copy (:func:`node.access.delivery.retention.key_id`); none before 0012."""
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """The end of the first complete download, from which the copy's grace runs."""
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    """When the copy left the disk after its retention; the row stays as the delivery's receipt."""


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
