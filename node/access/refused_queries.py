"""Queries the owner's node refused, recorded on chain as attempts (``recordRefusedQueries``), so
that 事后溯源 sees what a consumer tried and not only what it got.

A refusal the consumer caused is queued in the outbox before the node answers with the same
error as it would otherwise: SQL not allowed (an identifying field named on its own, see
:class:`~ledger.clients.QueryRefusal`), ε over the grant's cap, its budget or quota spent, no
privacy terms, or a grant no longer allowing Query. Refusals that come from the node's own state
(ledger paused, chain away, version not anchored or purged, source tampered, bounds not indexed
yet), from a grant that is not the caller's, or from a bad version number are not the
consumer's attempts at the data and are not recorded.

The query hash is that of the SQL as :func:`node.query.normalised_sql` renders it, so an
attempt and an accepted query of the same text have the same hash; a text that does not parse as
one statement is recorded as ``SQL_UNREADABLE`` with the hash of its raw text, whatever else was
wrong with the query. Either text is kept on this node only (:func:`texts.keep_here`), as the SQL
of accepted queries is, so this node's trace shows the auditor what was tried. Nothing is spent:
the contract touches neither quota nor ε.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from ledger.clients import QueryRefusal
from node.access.uses import hex32, queue_batches
from node.chain import texts
from node.errors import QueryRefused
from node.models import OutboxEntry
from node.query import normalised_sql

BATCH_SIZE = 100
"""Refusals per ``recordRefusedQueries`` transaction (~4,400 gas each on one grant)."""
KIND = "record_refused_queries"
E = TypeVar("E", bound=Exception)


@dataclass(frozen=True)
class RefusedQuery:
    """One refused query as ``recordRefusedQueries`` records it; ``query_id`` (random) makes it
    one write however alike two attempts are."""

    query_id: str
    grant_id: str
    query_hash: str
    reason: QueryRefusal


def queue_refusals(session: Session, refusals: Sequence[RefusedQuery], *,
                   batch_size: int = BATCH_SIZE) -> list[OutboxEntry]:
    """Queue ``refusals`` as outbox batches of at most ``batch_size``, those of one grant next to
    each other (the contract reads a grant once per run); returns the batch entries. A batch's
    id hashes its refusals' ids, so the same refusals queued again make the same batch."""
    return queue_batches(session, KIND, [
        {"query_id": hex32("query_id", r.query_id), "grant_id": hex32("grant_id", r.grant_id),
         "query_hash": hex32("query_hash", r.query_hash), "reason": int(QueryRefusal(r.reason))} for r in refusals],
        name="refusals", id_field="query_id", batch_size=batch_size, largest=BATCH_SIZE)


class Attempt:
    """A consumer's query of ``sql`` under ``grant_id`` at this node: each refusal it causes is
    recorded (:meth:`refuse`, :meth:`guard`) before its error is raised."""

    def __init__(self, session: Session, grant_id: str, sql: str) -> None:
        self.session = session
        self.grant_id = grant_id
        self.sql = sql

    def refuse(self, reason: QueryRefusal, err: E) -> E:
        """Keep the SQL here, queue the refusal and commit it; returns ``err`` for raising."""
        text = normalised_sql(self.sql)
        if text is None:
            text, reason = self.sql, QueryRefusal.SQL_UNREADABLE
        digest = texts.keep_here(self.session, text)
        queue_refusals(self.session, [RefusedQuery("0x" + secrets.token_hex(32), self.grant_id, digest, reason)])
        self.session.commit()
        return err

    @contextmanager
    def guard(self, reason: QueryRefusal, *errors: type[Exception]) -> Iterator[None]:
        """Record an error of the types ``errors`` raised in the block as a refusal for ``reason``."""
        try:
            yield
        except errors as err:
            self.refuse(reason, err)
            raise

    @contextmanager
    def sql_checked(self) -> Iterator[None]:
        """Record a :class:`QueryRefused` raised in the block, an identifying field as such."""
        try:
            yield
        except QueryRefused as err:
            self.refuse(QueryRefusal.IDENTIFYING_FIELD if err.identifying else QueryRefusal.SQL_NOT_ALLOWED, err)
            raise
