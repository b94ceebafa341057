"""Aggregate queries under a query grant, at the owner's node: the ε budget reserved, the query
run by :mod:`node.query`, and its record queued for ``recordQueries``; the normalised SQL is
kept in ``notes`` under its query hash (never published), so pages can show it.

A query goes out only after the checks a delivery makes against the chain hold (ledger not
paused, dataset this department's, grant active for this consumer and allowing Query, version
anchored, source untampered) and the grant's privacy terms are read on chain. ε is micro-ε
(:mod:`node.query.budget`). Under the grant's lock (:data:`checks.GRANT_LOCKS`, as deliveries
reserve quota) the ε still available and a use of the quota are checked, counting this node's
queries queued and not yet on chain, and the query's record is queued before the lock is let
go: two concurrent queries cannot spend the same ε. The contract checks the budget again, so
a query that got past a node would still be refused on chain.

A batch's id is the hash of its queries' ids (random per query), so the same queries queued
again make the same batch, which the outbox and the contract both refuse to apply twice.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.clients import Action, GrantPrivacy, QueryRefusal
from ledger.deploy import Ledger
from node import query
from node.access.delivery import checks
from node.access.refused_queries import Attempt
from node.access.uses import hex32, queue_batches
from node.chain import texts
from node.chain.outbox import CONFIRMED
from node.errors import CannotRecord, Conflict, DeliveryRefused, InvalidInput
from node.fields import FieldClass
from node.formats import kind_of
from node.models import DatasetVersion, Grant, OutboxEntry
from node.query.budget import epsilon_text
from node.store import PLAIN, DataStore

BATCH_SIZE = 100
"""Queries per ``recordQueries`` transaction (~30,000 gas each: each reads its grant afresh)."""
KIND = "record_queries"


@dataclass(frozen=True)
class QueryRecord:
    """One query run here, as ``recordQueries`` records it; ``query_id`` (random) makes it one
    write however alike two queries are."""

    query_id: str
    grant_id: str
    query_hash: str
    result_hash: str
    epsilon: int
    rows_scanned: int


@dataclass(frozen=True)
class QueryOutcome:
    """A released result and the outbox entry recording it on chain."""

    result: query.QueryResult
    record: QueryRecord
    entry: OutboxEntry


@dataclass(frozen=True)
class GrantPrivacyStatus:
    """A grant's privacy terms as the chain holds them, with ε spent on chain and queued here
    (micro-ε): what a route or the dashboard shows of a query grant."""

    terms: GrantPrivacy
    bounds: str | None
    """The bounds' text, from the indexed request when it hashes to the chain's ``boundsHash``."""
    spent: int
    pending: int

    @property
    def available(self) -> int:
        return _left(self.terms.epsilon_budget, self.spent, self.pending)


def _left(budget: int, spent: int, pending: int) -> int:
    """The ε (micro-ε) a grant has left: its budget less what landed on chain and what is on its way."""
    return max(budget - spent - pending, 0)


def queue_queries(session: Session, queries: Sequence[QueryRecord], *, batch_size: int = BATCH_SIZE) -> list[OutboxEntry]:
    """Queue ``queries`` as outbox batches of at most ``batch_size``; returns the batch entries."""
    for q in queries:
        if q.epsilon <= 0 or q.rows_scanned < 0:
            raise InvalidInput("epsilon", "a recorded query spends a positive ε and scans no negative rows")
    return queue_batches(session, KIND, [
        {"query_id": hex32("query_id", q.query_id), "grant_id": hex32("grant_id", q.grant_id),
         "query_hash": hex32("query_hash", q.query_hash), "result_hash": hex32("result_hash", q.result_hash),
         "epsilon": q.epsilon, "rows_scanned": q.rows_scanned} for q in queries],
        name="queries", id_field="query_id", batch_size=batch_size, largest=BATCH_SIZE)


# ---------------------------------------------------------------- the budget


@dataclass(frozen=True)
class _Spent:
    uses: int
    """Uses of the grant on chain, deliveries and queries of this node not landed."""
    epsilon: int
    """ε spent on chain."""
    pending_epsilon: int
    """ε of this node's queries of the grant not landed yet."""


def _spent(session: Session, ledger: Ledger, grant_id: str) -> _Spent:
    """What the grant has spent, on chain and on its way, read at one block taken after the
    queue (as :func:`checks.uses_spent`): a batch mined meanwhile is counted exactly once. A
    batch whose write failed is still counted: its result was released."""
    entries = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == KIND, OutboxEntry.status != CONFIRMED)).all()
    block = ledger.w3.eth.block_number
    assert ledger.sender is not None, "a node runs queries with its own account"
    me, grant = ledger.sender.address, bytes.fromhex(grant_id[2:])
    pending = [q for e in entries for q in e.payload["queries"] if q["grant_id"] == grant_id
               and not ledger.usage.id_used(me, bytes.fromhex(e.payload["batch_id"][2:]), block=block)]
    return _Spent(uses=checks.uses_spent(session, ledger, grant_id) + len(pending),
                  epsilon=ledger.usage.epsilon_spent(grant, block=block),
                  pending_epsilon=sum(int(q["epsilon"]) for q in pending))


def privacy_status(session: Session, ledger: Ledger, grant_id: str) -> GrantPrivacyStatus:
    """A grant's privacy terms, bounds and ε spent and queued: for the API and the dashboard."""
    grant_id = grant_id.lower()
    terms = ledger.grants.privacy_terms(bytes.fromhex(grant_id[2:]))
    spent = _spent(session, ledger, grant_id) if terms.present else _Spent(0, 0, 0)
    return GrantPrivacyStatus(terms, _bounds_text(session, grant_id, terms), spent.epsilon, spent.pending_epsilon)


def _bounds_text(session: Session, grant_id: str, terms: GrantPrivacy) -> str | None:
    row = session.get(Grant, grant_id)
    if row is None or row.bounds is None or keccak(row.bounds.encode()) != terms.bounds_hash:
        return None
    return row.bounds


def _bounds(text: str) -> Mapping[str, tuple[float, float]]:
    """The grant's clamping bounds, ``{"年龄": [0, 120]}``, as the engine takes them."""
    try:
        parsed = json.loads(text)
        return {str(name): (float(lo), float(hi)) for name, (lo, hi) in parsed.items()}
    except (ValueError, TypeError, AttributeError) as err:
        raise CannotRecord(f"the grant's bounds are not a JSON object of [low, high] pairs: {err}") from err


# ---------------------------------------------------------------- a query


def _version(session: Session, dataset_id: str, number: int | None) -> DatasetVersion:
    chosen = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    chosen = chosen.where(DatasetVersion.number == number) if number is not None else \
        chosen.order_by(DatasetVersion.number.desc()).limit(1)
    version = session.scalar(chosen)
    if version is None:
        raise InvalidInput("version", f"{dataset_id} has no version {number if number is not None else 'yet'}")
    return version


def run_granted_query(session: Session, ledger: Ledger, *, department: str, grant_id: str, consumer: str, sql: str,
                      epsilon_micro: int, version: int | None = None, store: DataStore = PLAIN) -> QueryOutcome:
    """Check against the chain that ``consumer`` may run ``sql`` under ``grant_id`` spending
    ``epsilon_micro``, run it over the version (the latest when None; its source read through
    ``store``, the node's), queue its record and return the released result. Refusals: :class:`LedgerPaused`, :class:`NotPermitted`,
    :class:`DeliveryRefused` (the grant allows no query now, or has no privacy terms),
    :class:`InvalidInput` (ε over the cap; the SQL, as :class:`QueryRefused`),
    :class:`Conflict` (ε budget or quota spent). Those the consumer caused are recorded on
    chain first (:mod:`node.access.refused_queries`)."""
    grant_id, consumer = grant_id.lower(), Web3.to_checksum_address(consumer)
    attempt = Attempt(session, grant_id, sql)
    checks.require_not_paused(ledger)
    grant = checks.grant_for(ledger, grant_id, consumer)
    dataset = checks.dataset_row(session, "0x" + grant.dataset_id.hex())
    checks.require_own_dataset(ledger, department, dataset.dataset_id)
    with attempt.guard(QueryRefusal.GRANT_NOT_ALLOWING, DeliveryRefused):
        checks.require_grant_allows(ledger, grant_id, grant, Action.QUERY)
    terms = ledger.grants.privacy_terms(bytes.fromhex(grant_id[2:]))
    if not terms.present:
        raise attempt.refuse(QueryRefusal.NO_PRIVACY_TERMS, DeliveryRefused(
            grant_id, "NO_PRIVACY_TERMS", "the grant has no privacy terms: it allows no query"))
    if not 0 < epsilon_micro <= terms.epsilon_cap:
        raise attempt.refuse(QueryRefusal.EPSILON_OVER_CAP, InvalidInput(
            "epsilon", f"must be above zero and at most the grant's cap of {epsilon_text(terms.epsilon_cap)} "
                       f"per query, not {'-' * (epsilon_micro < 0)}{epsilon_text(abs(epsilon_micro))}"))
    bounds = _bounds_text(session, grant_id, terms)
    if bounds is None:
        raise CannotRecord(f"the bounds of grant {grant_id} have not been indexed from the chain yet")
    row = _version(session, dataset.dataset_id, version)
    kind = kind_of(row.source_path)
    if kind is None:
        raise InvalidInput("version", "only CSV and JSON lines datasets are queried")
    checks.require_anchored_version(ledger, row)
    source = checks.require_untampered_source(row, store=store)
    policy = query.QueryPolicy(fields=checks.granted_fields(session, ledger, grant_id, grant),
                               classes={n: FieldClass(c) for n, c in dataset.field_classes.items()},
                               bounds=_bounds(bounds), min_group_size=terms.min_group_size)
    with attempt.sql_checked():
        checked = query.check_query(sql, policy)
    return reserve_and_queue(
        session, ledger, grant_id, epsilon_micro=epsilon_micro, max_uses=grant.max_uses, budget=terms.epsilon_budget,
        attempt=attempt, release=lambda: query.run(checked, source, kind=kind, encoding=row.encoding or "utf-8",
                                  content_root=row.content_root, epsilon=epsilon_micro, policy=policy, store=store))


def reserve_and_queue(session: Session, ledger: Ledger, grant_id: str, *, epsilon_micro: int, max_uses: int,
                      budget: int, release: Callable[[], query.QueryResult],
                      attempt: Attempt | None = None) -> QueryOutcome:
    """Under the grant's lock: check that a use and ``epsilon_micro`` of the ``budget`` are left
    (on chain and queued here), ``release`` the result, and queue and commit its record, so no
    two queries spend the same ε. :class:`Conflict` when the quota or the budget is spent, and
    :class:`QueryRefused` from ``release``, each recorded as a refusal of ``attempt`` if given."""
    with checks.GRANT_LOCKS.hold(grant_id):
        spent = _spent(session, ledger, grant_id)
        refused: tuple[QueryRefusal, Conflict] | None = None
        available = _left(budget, spent.epsilon, spent.pending_epsilon)
        if spent.uses >= max_uses:
            refused = QueryRefusal.QUOTA_EXHAUSTED, Conflict(
                f"grant {grant_id}", f"{spent.uses} of {max_uses} uses spent or on their way")
        elif epsilon_micro > available:
            refused = QueryRefusal.BUDGET_EXHAUSTED, Conflict(
                f"grant {grant_id}", f"ε {epsilon_text(epsilon_micro)} asked, {epsilon_text(available)} "
                                     f"of its budget of {epsilon_text(budget)} left")
        if refused is not None:
            raise attempt.refuse(*refused) if attempt is not None else refused[1]
        with attempt.sql_checked() if attempt is not None else nullcontext():
            result = release()
        record = QueryRecord("0x" + secrets.token_hex(32), grant_id, "0x" + result.query_hash.hex(),
                             "0x" + result.result_hash.hex(), epsilon_micro, result.rows_scanned)
        [entry] = queue_queries(session, [record])
        texts.keep_here(session, result.normalised_sql)
        session.commit()
    return QueryOutcome(result, record, entry)
