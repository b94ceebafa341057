"""The index of the chain: blocks, events and what the indexer projects from them (grants, uses,
quality issues, lineage, statements), and its cursors. Like the catalog tables and the published
texts, they hold nothing the chain does not: ``provledger node reindex`` rebuilds them from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, Hash, utcnow


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
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
    tx_hash: Mapped[str] = mapped_column(Hash)
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(Hash, nullable=True)
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
    # A query grant's privacy terms (``QueryTermsRequested``), ε in micro-ε; None on other grants.
    epsilon_budget: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    epsilon_cap: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    min_group_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bounds: Mapped[str | None] = mapped_column(Text, nullable=True)


class Use(Base):
    __tablename__ = "uses"
    __table_args__ = (UniqueConstraint("block_number", "log_index"), Index("ix_uses_dataset_block", "dataset_id", "block_number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grant_id: Mapped[str] = mapped_column(Hash, index=True)
    dataset_id: Mapped[str | None] = mapped_column(Hash, nullable=True)
    actor: Mapped[str] = mapped_column(String(42))
    action: Mapped[int] = mapped_column(Integer)
    evidence_hash: Mapped[str] = mapped_column(Hash)
    sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refused: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(Hash)


class QueryRow(Base):
    """One query recorded on chain (``QueryRecorded``): the use numbered ``sequence`` of its grant,
    with the hashes of its normalised SQL and released result, and ε (micro-ε) spent by it and by
    the grant after it."""

    __tablename__ = "queries"

    grant_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    query_hash: Mapped[str] = mapped_column(Hash)
    result_hash: Mapped[str] = mapped_column(Hash)
    epsilon: Mapped[int] = mapped_column(BigInteger)
    epsilon_spent: Mapped[int] = mapped_column(BigInteger)
    rows_scanned: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tx_hash: Mapped[str] = mapped_column(Hash)
    log_index: Mapped[int] = mapped_column(Integer)


class RefusedQueryRow(Base):
    """One query the owner's node refused, recorded on chain (``QueryRefused``): the consumer who
    tried, the hash of its SQL (normalised, or raw for ``SQL_UNREADABLE``) and the reason's code
    (``ledger.clients.QueryRefusal``). Nothing was spent."""

    __tablename__ = "refused_queries"
    __table_args__ = (PrimaryKeyConstraint("block_number", "log_index"),)

    grant_id: Mapped[str] = mapped_column(Hash, index=True)
    consumer: Mapped[str] = mapped_column(String(42))
    query_hash: Mapped[str] = mapped_column(Hash)
    reason: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tx_hash: Mapped[str] = mapped_column(Hash)
    log_index: Mapped[int] = mapped_column(Integer)


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




class IndexerCursor(Base):
    __tablename__ = "indexer_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
