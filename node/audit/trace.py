"""Traces: the full history of a dataset or of a consumer, from the index of the chain, paged.

Every item is one indexed chain event and carries what verifying it against the chain needs:
block number and hash, transaction hash, log index, contract and its address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from web3 import Web3

from node.chain.texts import texts as texts_of
from node.errors import InvalidInput
from node.models import ChainEventRow
from node.models import Lineage as LineageRow


@dataclass(frozen=True)
class TraceItem:
    """One event of a trace. ``args`` are the event's arguments as indexed: bytes as 0x hex,
    integers beyond 2**53 as decimal strings, addresses checksummed."""

    id: int
    block_number: int
    block_hash: str
    block_time: int | None
    tx_hash: str
    log_index: int
    contract: str
    contract_address: str
    name: str
    args: dict[str, Any]
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    texts: dict[str, str] = field(default_factory=dict)
    """The texts behind the event's hashes (a purpose, a reason, a note, a report), by argument
    name, where this node holds them (``notes``, filled from the chain on every node)."""


@dataclass(frozen=True)
class Page:
    """A page of a trace; pass ``next_after`` back as ``after`` for the next one (None: the end)."""

    items: list[TraceItem]
    next_after: int | None


@dataclass(frozen=True)
class Lineage:
    parents: list[str]
    children: list[str]


MAX_PAGE = 1000
TEXT_HASHES = ("purposeHash", "reasonHash", "noteHash", "reportHash", "textHash")
"""The event arguments that name a text by its hash."""


def _item(row: ChainEventRow, addresses: Mapping[str, str], known: Mapping[str, str]) -> TraceItem:
    texts = {k: known[row.args[k]] for k in TEXT_HASHES if row.args.get(k) in known}
    return TraceItem(row.id, row.block_number, row.block_hash, row.block_time, row.tx_hash, row.log_index,
                     row.contract, addresses.get(row.contract, ""), row.name, row.args, row.dataset_id, row.grant_id,
                     row.consumer, texts)


def _page(session: Session, where: ColumnElement[bool], addresses: Mapping[str, str], after: int,
          limit: int) -> Page:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be 1 to {MAX_PAGE}")
    rows = session.scalars(select(ChainEventRow).where(where, ChainEventRow.id > after)
                           .order_by(ChainEventRow.id).limit(limit + 1)).all()
    known = texts_of(session, [row.args.get(k) for row in rows[:limit] for k in TEXT_HASHES])
    items = [_item(row, addresses, known) for row in rows[:limit]]
    return Page(items, items[-1].id if len(rows) > limit else None)


def dataset_trace(session: Session, addresses: Mapping[str, str], dataset_id: str, *, after: int = 0,
                  limit: int = 100) -> Page:
    """Registration, versions, requests, decisions, every use (refused ones too), freezes and
    quality issues of ``dataset_id``, in chain order."""
    return _page(session, ChainEventRow.dataset_id == dataset_id.lower(), addresses, after, limit)


def consumer_trace(session: Session, addresses: Mapping[str, str], consumer: str, *, after: int = 0,
                   limit: int = 100) -> Page:
    """A consumer's requests, the decisions on them, every use of its grants and its statements."""
    return _page(session, ChainEventRow.consumer == Web3.to_checksum_address(consumer), addresses, after, limit)


def lineage(session: Session, dataset_id: str) -> Lineage:
    """The datasets ``dataset_id`` was derived from, and those derived from it."""
    dataset_id = dataset_id.lower()
    parents = session.scalars(select(LineageRow.parent_id).where(LineageRow.child_id == dataset_id)
                              .order_by(LineageRow.block_number, LineageRow.parent_id)).all()
    children = session.scalars(select(LineageRow.child_id).where(LineageRow.parent_id == dataset_id)
                               .order_by(LineageRow.block_number, LineageRow.child_id)).all()
    return Lineage(list(parents), list(children))


def whole(pages: Callable[[int], Page]) -> Iterator[TraceItem]:
    """Every item of a trace, page after page: ``pages(after)`` reads one."""
    after: int | None = 0
    while after is not None:
        page = pages(after)
        yield from page.items
        after = page.next_after
