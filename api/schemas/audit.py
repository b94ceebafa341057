"""Bodies of audit: traces and their verification, completeness, alerts and leak attribution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from pydantic_core import to_json

from api.schemas.base import Model, UtcDateTime
from api.schemas.mirror import mirrors
from node.access.delivery.leaks import Attribution
from node.audit.completeness import Completeness
from node.audit.trace import Lineage, Page, TraceItem
from node.audit.verify import Report
from node.models import Alert, Delivery


@mirrors(Report)
class Verification(Model):
    ok: bool
    problems: list[str] = Field(default_factory=list)


@mirrors(Report)
class FileVerification(Verification):
    """A version's files against its anchored root."""

    purged: str | None = Field(None, description="the version's plaintext was purged by its owner (when, why), "
                                                 "as the chain records it: not verified, and not tampered")


@mirrors(TraceItem, added=("verification",))
class TraceItemOut(Model):
    id: int
    block_number: int
    block_hash: str
    block_time: int | None
    tx_hash: str
    log_index: int
    contract: str = Field(examples=["UsageLog"])
    contract_address: str
    name: str = Field(examples=["UseRecorded"])
    args: dict[str, Any]
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    texts: dict[str, str] = Field(default_factory=dict, description="the texts behind the event's hashes, by "
                                  "argument name (purposeHash, reasonHash, noteHash, reportHash, queryHash: a query's "
                                  "SQL), where the node holds them; a refused query's reason in words under reason")
    verification: Verification | None = None


class PositionOut(Model):
    block_number: int
    log_index: int | None = Field(description="null: the whole block")


@mirrors(Completeness, converted=("after", "through"))
class CompletenessOut(Model):
    """The trace's items compared with the chain's, read by indexed topic up to the block the
    index stands on: the whole trace's counts, and the page's span of the chain item by item (on
    the first page, the whole trace when the counts differ). Read every page with ``verify`` to
    compare every item."""

    ok: bool
    scope: Literal["page", "trace"] = Field(description="what was compared item by item")
    block_number: int = Field(description="the last block the index took from the chain")
    on_chain: int = Field(description="the trace's events on chain up to that block")
    in_index: int = Field(description="the trace's events in this node's index")
    after: PositionOut | None = Field(description="the span compared starts after this (null: at the start)")
    through: PositionOut | None = Field(description="and ends with this")
    missing: int = Field(description="events on chain that the index lacks here")
    extra: int = Field(description="events in the index that the chain does not file here")
    changed: int = Field(description="differences in the columns that file an event, or in chain order")
    problems: list[str] = Field(default_factory=list)


@mirrors(Lineage)
class LineageOut(Model):
    parents: list[str]
    children: list[str]


@mirrors(Page, added=("subject", "lineage", "complete"))
class TracePage(Model):
    subject: str
    items: list[TraceItemOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")
    lineage: LineageOut | None = None
    complete: CompletenessOut | None = Field(default=None, description="with ``verify``: whether the trace is complete")


def trace_json(subject: str, page: Page, lineage: LineageOut | None, problems: Sequence[list[str]] | None = None,
               complete: CompletenessOut | None = None) -> bytes:
    """The :class:`TracePage` of ``page`` as JSON, with ``problems`` each item's verification:
    the bytes its model writes, without validating again each item, already a typed
    :class:`TraceItem` of the node's (validating a page's hundred items cost as much as reading
    them). ``tests/api/test_schemas.py`` holds it to the model's own output."""
    items = [{**vars(item), "verification": None} for item in page.items]
    for item, found in zip(items, problems or ()):
        item["verification"] = {"ok": not found, "problems": found}
    return to_json({"subject": subject, "items": items, "next_after": page.next_after,
                    "lineage": lineage.model_dump() if lineage else None,
                    "complete": complete.model_dump() if complete else None})


@mirrors(Alert)
class AlertOut(Model):
    id: int
    kind: str = Field(examples=["quota"])
    severity: str
    message: str
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    block_number: int | None
    created_at: UtcDateTime


@mirrors(Delivery)
class SuspectOut(Model):
    delivery_id: str
    grant_id: str
    consumer: str


@mirrors(Attribution, added=("grant_id", "consumer", "dataset_id"), converted=("delivery_id", "beyond_chance"))
class AttributionOut(Model):
    delivery_id: str | None = Field(description="the delivery the copy came from; null unless confident")
    grant_id: str | None
    consumer: str | None
    dataset_id: str | None
    confident: bool
    reason: str | None = Field(description="why no delivery is named; null when one is",
                               examples=["the copy carries 12 readable fingerprint bits; 32 are needed"])
    bits: int = Field(description="fingerprint bits read from the copy")
    matching: int = Field(description="how many of them the best-matching delivery predicts")
    score: float = Field(examples=[1.0], description="matching / bits")
    p_value: float = Field(description="the chance that one delivery not the source predicts as many")
    runner_up_score: float | None
    rows: int = Field(description="distinct rows the bits were read from")
    beyond_chance: list[SuspectOut] = Field(description="every delivery predicting the copy beyond chance "
                                                        "(two or more: a copy mixed from them)")
