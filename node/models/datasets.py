"""Datasets and versions this department registered, and the chain-wide catalog of every department's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.base import Base, Hash, utcnow


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
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the version's plaintext left this node (``node.catalog.purge``); its root and evidence stay."""
    purge_reason: Mapped[str | None] = mapped_column(Hash, nullable=True)
    """The hash of the purge's reason text, as ``VersionPurged`` names it."""
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
    purged_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The block of the version's ``VersionPurged``, if its owner purged it."""
    purge_reason: Mapped[str | None] = mapped_column(Hash, nullable=True)
