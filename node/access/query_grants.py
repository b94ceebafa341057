"""Query grants as people read them: the privacy terms in words, and a grant's queries with the
ε spent, queued and left, for the review queue, ``GET /grants/{id}/queries`` and the dashboard.

ε is shown as decimal text ("0.5"), never in micro-ε: :func:`node.query.budget.epsilon_text`
is the one writer. The terms come from the indexed ``QueryTermsRequested`` (the grants table);
ε spent and queued from :func:`node.access.queries.privacy_status`, which reads the chain; each
query from the indexed ``QueryRecorded`` rows, and each query this node refused from the indexed
``QueryRefused`` rows (the consumer sees its own attempts), with the SQL where this node ran or
refused it and kept it (``notes``, under the query hash).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.deploy import Ledger
from node.access.queries import privacy_status
from node.chain import texts
from node.errors import InvalidInput, NotFound, NotPermitted
from ledger.clients import query_refusal_words
from node.models import Dataset, Grant, QueryRow, RefusedQueryRow
from node.query import epsilon_text, parse_bounds


def _number(value: float) -> str:
    """A bound as people write it: ``120`` rather than ``120.0``."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@dataclass(frozen=True)
class Bound:
    """A numeric field's clamping bounds, as decimal text."""

    field: str
    low: str
    high: str


@dataclass(frozen=True)
class QueryTerms:
    """A query grant's privacy terms, ε as decimal text."""

    epsilon_budget: str
    epsilon_cap: str
    min_group_size: int
    bounds: list[Bound] | None
    """None when the bounds' text on chain is not readable as bounds (then no SUM or AVG runs)."""
    bounds_text: str

    @property
    def words(self) -> str:
        """"query grant: ε budget 5, at most 1 per query, groups of at least 10, bounds 年龄 0–120"."""
        if self.bounds is None:
            bounds = f"bounds unreadable ({self.bounds_text})"
        elif self.bounds:
            bounds = "bounds " + ", ".join(f"{b.field} {b.low}–{b.high}" for b in self.bounds)
        else:
            bounds = "no bounds (no SUM or AVG)"
        return (f"query grant: ε budget {self.epsilon_budget}, at most {self.epsilon_cap} per query, "
                f"groups of at least {self.min_group_size}, {bounds}")


def terms_of(grant: Grant) -> QueryTerms | None:
    """The privacy terms of an indexed grant; None for a grant asked for without them."""
    if grant.epsilon_budget is None or grant.epsilon_cap is None or grant.min_group_size is None:
        return None
    text = grant.bounds or "{}"
    try:
        bounds: list[Bound] | None = [Bound(name, _number(lo), _number(hi))
                                      for name, (lo, hi) in parse_bounds(text).items()]
    except InvalidInput:
        bounds = None
    return QueryTerms(epsilon_text(grant.epsilon_budget), epsilon_text(grant.epsilon_cap), grant.min_group_size,
                      bounds, text)


@dataclass(frozen=True)
class QueryLine:
    """One query recorded on chain under a grant."""

    sequence: int
    block_number: int
    block_time: int | None
    epsilon: str
    rows_scanned: int
    query_hash: str
    result_hash: str
    sql: str | None
    """The normalised SQL, where this node ran the query and kept it."""
    tx_hash: str


@dataclass(frozen=True)
class RefusedLine:
    """One query refused under a grant, as recorded on chain: nothing was spent."""

    block_number: int
    block_time: int | None
    reason: str
    """Why, in words."""
    query_hash: str
    sql: str | None
    """The SQL as normalised (the raw text when it did not parse), where this node refused it and kept it."""
    tx_hash: str


@dataclass(frozen=True)
class GrantQueries:
    """A query grant with its dataset, purpose, terms, ε spent, queued and left, and its queries."""

    grant_id: str
    dataset_id: str
    dataset_name: str
    grantee: str
    status: str
    purpose: str | None
    fields: list[str]
    uses: int
    max_uses: int
    terms: QueryTerms
    epsilon_spent: str
    epsilon_queued: str
    """ε of queries run here whose record is not on chain yet."""
    epsilon_left: str
    queries: list[QueryLine]
    refused: list[RefusedLine]
    """The queries this node refused to run under the grant, oldest first."""


def readable_grant(session: Session, grant_id: str, *, consumer: str | None) -> tuple[Grant, Dataset]:
    """A query grant on one of this node's datasets, which ``consumer`` (None: staff or an
    auditor) may read: its own. :class:`NotFound` for another grant, :class:`NotPermitted` for
    another consumer's."""
    found = session.execute(select(Grant, Dataset).join(Dataset, Dataset.dataset_id == Grant.dataset_id)
                            .where(Grant.grant_id == grant_id.lower())).first()
    if found is None or found[0].epsilon_budget is None:
        raise NotFound("query grant on this node's datasets", grant_id)
    if consumer is not None and found[0].grantee != Web3.to_checksum_address(consumer):
        raise NotPermitted(consumer, f"read the queries of grant {grant_id}", "it is another consumer's")
    return found[0], found[1]


def grant_queries(session: Session, ledger: Ledger, grant: Grant, dataset: Dataset) -> GrantQueries:
    """``grant`` (a query grant on ``dataset``) with its ε accounts, read on chain now, and its
    indexed queries, oldest first."""
    terms = terms_of(grant)
    assert terms is not None, "a query grant"
    status = privacy_status(session, ledger, grant.grant_id)
    rows = list(session.scalars(select(QueryRow).where(QueryRow.grant_id == grant.grant_id)
                                .order_by(QueryRow.sequence)))
    refused = list(session.scalars(select(RefusedQueryRow).where(RefusedQueryRow.grant_id == grant.grant_id)
                                   .order_by(RefusedQueryRow.block_number, RefusedQueryRow.log_index)))
    known = texts.texts(session, [grant.purpose_hash, *(r.query_hash for r in rows),
                                  *(r.query_hash for r in refused)])
    return GrantQueries(
        grant.grant_id, grant.dataset_id, dataset.name, grant.grantee, grant.status, known.get(grant.purpose_hash),
        list(grant.fields), grant.uses, grant.max_uses, terms, epsilon_text(status.spent),
        epsilon_text(status.pending), epsilon_text(status.available),
        [QueryLine(r.sequence, r.block_number, r.block_time, epsilon_text(r.epsilon), r.rows_scanned, r.query_hash,
                   r.result_hash, known.get(r.query_hash), r.tx_hash) for r in rows],
        [RefusedLine(r.block_number, r.block_time, query_refusal_words(r.reason), r.query_hash, known.get(r.query_hash),
                     r.tx_hash) for r in refused])


def consumer_query_grants(session: Session, ledger: Ledger, consumer: str) -> list[GrantQueries]:
    """``consumer``'s query grants on this node's datasets, oldest request first."""
    found = session.execute(select(Grant, Dataset).join(Dataset, Dataset.dataset_id == Grant.dataset_id)
                            .where(Grant.grantee == Web3.to_checksum_address(consumer),
                                   Grant.epsilon_budget.is_not(None))
                            .order_by(Grant.requested_block, Grant.grant_id)).all()
    return [grant_queries(session, ledger, grant, dataset) for grant, dataset in found]
