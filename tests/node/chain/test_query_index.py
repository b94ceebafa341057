"""The indexer projects query grants' privacy terms and the queries recorded on chain, refused
ones too, undoes them through a reorg like the uses, and the outbox sends ``record_queries`` and
``record_refused_queries`` batches once."""

from __future__ import annotations

import hashlib
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import select

from ledger.chain import LocalChain
from ledger.clients import Action, PrivacyTerms, QueryInput, QueryRefusal, RefusedQueryInput
from node.access.queries import QueryRecord, queue_queries
from node.access.refused_queries import RefusedQuery, queue_refusals
from node.chain.indexer import Indexer
from node.chain.outbox import OutboxWorker
from node.db import make_engine, migrate, session_factory
from node.models import Grant, QueryRow, RefusedQueryRow
from tests.utils.ledgers import Suite, approved_grant

TERMS = PrivacyTerms(epsilon_budget=3_000_000, epsilon_cap=1_000_000, min_group_size=5, bounds='{"年龄":[0,120]}')


def _rpc(chain: LocalChain, method: str, *params: Any) -> Any:
    return chain.web3().provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def _query(grant: bytes, label: str, epsilon: int) -> QueryInput:
    return QueryInput(grant, keccak(f"q {label}".encode()), keccak(f"r {label}".encode()), epsilon, 1000)


def test_queries_are_indexed_and_undone_by_a_reorg(chain: LocalChain, suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner, consumer = suite.departments[0], suite.consumers[0]
    run = database_url.split(":", 1)[0]
    _, grant = approved_grant(owner, consumer, f"query index {run}", Action.QUERY, terms=TERMS)
    gid = "0x" + grant.hex()
    owner.usage.record_queries(keccak(f"kept {run}".encode()), [_query(grant, "kept", 1_000_000)])
    owner.usage.record_refused_queries(keccak(f"kept refusal {run}".encode()),
                                       [RefusedQueryInput(grant, keccak(b"id"), QueryRefusal.IDENTIFYING_FIELD)])
    indexer = Indexer(sessions, owner, confirmations=1, chunk=7)
    indexer.catch_up()

    snapshot = _rpc(chain, "evm_snapshot")
    owner.usage.record_queries(keccak(f"undone {run}".encode()), [_query(grant, "undone", 1_000_000)] * 2)
    owner.usage.record_refused_queries(keccak(f"undone refusal {run}".encode()),
                                       [RefusedQueryInput(grant, keccak(b"cap"), QueryRefusal.EPSILON_OVER_CAP)] * 2)
    indexer.catch_up()
    with sessions() as session:
        assert [q.epsilon_spent for q in session.scalars(select(QueryRow).where(QueryRow.grant_id == gid)
                                                         .order_by(QueryRow.sequence))] == [1_000_000, 2_000_000, 3_000_000]
        assert len(session.scalars(select(RefusedQueryRow).where(RefusedQueryRow.grant_id == gid)).all()) == 3

    assert _rpc(chain, "evm_revert", snapshot)
    owner.sender.nonces.resync()  # type: ignore[union-attr]
    owner.usage.record_queries(keccak(f"instead {run}".encode()), [_query(grant, "instead", 500_000)])
    _rpc(chain, "anvil_mine", "0x3")
    indexer.catch_up()
    with sessions() as session:
        row = session.get(Grant, gid)
        assert row is not None and (row.epsilon_budget, row.epsilon_cap, row.min_group_size, row.bounds) == (
            3_000_000, 1_000_000, 5, TERMS.bounds)
        assert row.uses == 2
        queries = session.scalars(select(QueryRow).where(QueryRow.grant_id == gid).order_by(QueryRow.sequence)).all()
        assert [(q.sequence, q.query_hash, q.epsilon, q.epsilon_spent, q.rows_scanned) for q in queries] == [
            (1, "0x" + keccak(b"q kept").hex(), 1_000_000, 1_000_000, 1000),
            (2, "0x" + keccak(b"q instead").hex(), 500_000, 1_500_000, 1000)]
        refused = session.scalars(select(RefusedQueryRow).where(RefusedQueryRow.grant_id == gid)).all()
        assert [(r.consumer, r.query_hash, r.reason) for r in refused] == [
            (consumer.sender.address, "0x" + keccak(b"id").hex(), QueryRefusal.IDENTIFYING_FIELD)]  # type: ignore[union-attr]
    assert owner.usage.epsilon_spent(grant) == 1_500_000
    engine.dispose()


def test_the_outbox_records_queued_queries_and_refusals_once(suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner, consumer = suite.departments[0], suite.consumers[1]
    run = database_url.split(":", 1)[0]
    _, grant = approved_grant(owner, consumer, f"query outbox {run}", Action.QUERY, terms=TERMS)
    records = [QueryRecord("0x" + hashlib.sha256(f"{run} {i}".encode()).hexdigest(), "0x" + grant.hex(),
                           "0x" + keccak(b"q%d" % i).hex(), "0x" + keccak(b"r%d" % i).hex(), 400_000, 10 + i)
               for i in range(5)]
    refusals = [RefusedQuery("0x" + hashlib.sha256(f"{run} refused {i}".encode()).hexdigest(), "0x" + grant.hex(),
                             "0x" + keccak(b"refused %d" % i).hex(), QueryRefusal(i % 8)) for i in range(5)]
    with sessions() as session:
        for queue, items in ((queue_queries, records), (queue_refusals, refusals)):
            first = queue(session, items, batch_size=3)  # type: ignore[operator]
            again = queue(session, items, batch_size=3)  # type: ignore[operator]
            assert [e.key for e in first] == [e.key for e in again] and len(first) == 2
        session.commit()
    assert owner.sender is not None
    OutboxWorker(sessions, owner, owner.sender).run_until_idle(timeout=120)
    # The refusals spent nothing: the five queries alone did.
    assert owner.usage.epsilon_spent(grant) == 2_000_000 and owner.usage.uses_of(grant) == 5
    Indexer(sessions, owner, confirmations=0).catch_up()
    with sessions() as session:
        rows = session.scalars(select(RefusedQueryRow).where(RefusedQueryRow.grant_id == "0x" + grant.hex())).all()
        assert sorted((r.query_hash, r.reason) for r in rows) == sorted((r.query_hash, int(r.reason)) for r in refusals)
        assert {r.consumer for r in rows} == {consumer.sender.address}  # type: ignore[union-attr]
    engine.dispose()

