"""Traces: the full history of a dataset or of a consumer, from the index of the chain, paged.

Every item is one indexed chain event and carries what verifying it against the chain needs:
block number and hash, transaction hash, log index, contract and its address.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Select, Text, bindparam, cast, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable
from web3 import Web3

from ledger.clients import query_refusal_words
from node.chain.texts import ZERO_HASH
from node.errors import InvalidInput
from node.models import ChainEventRow, Note
from node.models import Lineage as LineageRow


@dataclass
class TraceItem:
    """One event of a trace. ``args`` are the event's arguments as indexed: bytes as 0x hex,
    integers beyond 2**53 as decimal strings, addresses checksummed. Not frozen: a frozen
    dataclass sets each field through ``object.__setattr__``, which made making one six times
    slower (a whole trace exported makes one per event)."""

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
    """The texts behind the event's hashes (a purpose, a reason, a note, a report, a query's SQL),
    by argument name, where this node holds them (``notes``, filled from the chain on every node);
    and a refused query's reason code in words, under ``reason``."""


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
TEXT_HASHES = ("purposeHash", "reasonHash", "noteHash", "reportHash", "textHash", "queryHash")
"""The event arguments that name a text by its hash (a query's is its normalised SQL, kept by the node
that ran it)."""



REFUSED_QUERY = "QueryRefused"
"""The event of a query the owner's node refused: its reason code is told in words."""

By = Literal["dataset", "consumer"]
"""What a trace follows: a dataset (its id, lowercase) or a consumer (its checksummed address)."""
_BY = {"dataset": ChainEventRow.dataset_id, "consumer": ChainEventRow.consumer}
_COLUMNS = (ChainEventRow.id, ChainEventRow.block_number, ChainEventRow.block_hash, ChainEventRow.block_time,
            ChainEventRow.tx_hash, ChainEventRow.log_index, ChainEventRow.contract, ChainEventRow.name,
            cast(ChainEventRow.args, Text), ChainEventRow.dataset_id, ChainEventRow.grant_id, ChainEventRow.consumer)
"""The arguments come as their JSON text, each statement's parsed in one call (a call per row
cost as much as the rest of reading it)."""
_TEXTS = tuple(select(Note.text).where(Note.hash == ChainEventRow.args[name].as_string(), Note.hash != ZERO_HASH)
               .scalar_subquery().label(f"text_{name}") for name in TEXT_HASHES)
"""The text behind each of an event's text hashes, read in the row's own statement: a page is
one query, whatever texts its events name."""


@functools.cache
def _statement(by: By, texts: bool) -> Executable:
    """The statement of a trace's rows, made once (making one cost more than running it)."""
    return select(*_COLUMNS, *(_TEXTS if texts else ())).where(
        _BY[by] == bindparam("key"), ChainEventRow.id > bindparam("after")).order_by(ChainEventRow.id).limit(
        bindparam("limit"))


def rows(session: Session, by: By, key: str, addresses: Mapping[str, str], *, after: int = 0, limit: int,
         texts: bool = True) -> Iterator[TraceItem]:
    """The first ``limit`` items of the trace of ``key`` after row ``after``, in chain order,
    from one statement of plain rows (no ORM objects); with ``texts``, each with its texts."""
    found = session.connection().execute(_statement(by, texts), {"key": key, "after": after, "limit": limit}).all()
    arguments = json.loads("[" + ",".join(row[8] for row in found) + "]")
    for row, args in zip(found, arguments):
        held = {name: str(text) for name, text in zip(TEXT_HASHES, row[len(_COLUMNS):]) if text is not None} \
            if texts else {}
        if texts and row[7] == REFUSED_QUERY:
            held["reason"] = query_refusal_words(args["reason"])
        yield TraceItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], addresses.get(row[6], ""), row[7],
                        args, row[9], row[10], row[11], held)


def every_item(session: Session, by: By, key: str, addresses: Mapping[str, str], *,
               chunk: int = 5000) -> Iterator[TraceItem]:
    """Every item of the trace of ``key``, in chain order and without texts, read ``chunk`` rows
    a statement: a whole trace goes through without being held whole."""
    after, read = 0, chunk
    while read == chunk:
        read = 0
        for item in rows(session, by, key, addresses, after=after, limit=chunk, texts=False):
            read, after = read + 1, item.id
            yield item


def _page(session: Session, by: By, key: str, addresses: Mapping[str, str], after: int, limit: int) -> Page:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be 1 to {MAX_PAGE}")
    items = list(rows(session, by, key, addresses, after=after, limit=limit + 1))
    return Page(items[:limit], items[limit - 1].id if len(items) > limit else None)


def dataset_trace(session: Session, addresses: Mapping[str, str], dataset_id: str, *, after: int = 0,
                  limit: int = 100) -> Page:
    """Registration, versions, requests, decisions, every use (refused ones too), freezes and
    quality issues of ``dataset_id``, in chain order."""
    return _page(session, "dataset", dataset_id.lower(), addresses, after, limit)


def consumer_trace(session: Session, addresses: Mapping[str, str], consumer: str, *, after: int = 0,
                   limit: int = 100) -> Page:
    """A consumer's requests, the decisions on them, every use of its grants and its statements."""
    return _page(session, "consumer", Web3.to_checksum_address(consumer), addresses, after, limit)


def _family() -> Select[bool, str]:
    parents = select(literal(True).label("parent"), LineageRow.parent_id.label("other"), LineageRow.block_number) \
        .where(LineageRow.child_id == bindparam("dataset"))
    children = select(literal(False).label("parent"), LineageRow.child_id.label("other"), LineageRow.block_number) \
        .where(LineageRow.parent_id == bindparam("dataset"))
    both = union_all(parents, children).subquery()
    return select(both.c.parent, both.c.other).order_by(both.c.block_number, both.c.other)


_FAMILY = _family()


def lineage(session: Session, dataset_id: str) -> Lineage:
    """The datasets ``dataset_id`` was derived from, and those derived from it (one statement)."""
    found = session.connection().execute(_FAMILY, {"dataset": dataset_id.lower()}).all()
    return Lineage([other for parent, other in found if parent], [other for parent, other in found if not parent])


def whole(pages: Callable[[int], Page]) -> Iterator[TraceItem]:
    """Every item of a trace, page after page: ``pages(after)`` reads one."""
    after: int | None = 0
    while after is not None:
        page = pages(after)
        yield from page.items
        after = page.next_after
