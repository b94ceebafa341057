"""Attacks on a query grant's ε budget, at the contract and at the owner's node.

The contract is the last word: whatever a node does, a query past the budget or the cap, on a
grant without privacy terms, or recorded by anyone but the owner department is refused on
chain. The node reserves ε under the grant's lock, so concurrent queries never overspend it
before the chain gets to say so.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.types import TxReceipt

from ledger.clients import Action, PrivacyTerms, QueryInput, Refusal, Use
from ledger.deploy import Ledger
from ledger.errors import ContractError
from node.access.queries import privacy_status, reserve_and_queue
from node.chain.outbox import OutboxWorker
from node.db import make_engine, migrate, session_factory
from node.errors import Conflict
from node.query import QueryResult
from tests.utils.ledgers import Suite, approved_grant

BUDGET, CAP = 1_000_000, 300_000
TERMS = PrivacyTerms(epsilon_budget=BUDGET, epsilon_cap=CAP, min_group_size=5, bounds='{"年龄":[0,120]}')
_serial = itertools.count()


def _query(grant: bytes, epsilon: int) -> QueryInput:
    n = next(_serial)
    return QueryInput(grant, keccak(b"query %d" % n), keccak(b"result %d" % n), epsilon, 100)


def _record(ledger: Ledger, queries: list[QueryInput]) -> list[tuple[str, int]]:
    """Send ``queries`` in one batch; per query, ("recorded", ε spent after it) or ("refused", reason)."""
    receipt: TxReceipt = ledger.usage.record_queries(keccak(b"batch %d" % next(_serial)), queries)
    events = [e for e in (ledger.events.decode(log) for log in receipt["logs"]) if e is not None]
    return [("recorded", int(e.args["epsilonSpent"])) if e.name == "QueryRecorded" else ("refused", int(e.args["reason"]))
            for e in events if e.name in ("QueryRecorded", "UseRefused")]


def _query_grant(suite: Suite, label: str, *, terms: PrivacyTerms | None = TERMS, max_uses: int = 50) -> bytes:
    _, grant = approved_grant(suite.departments[0], suite.consumers[0], label, Action.QUERY, terms=terms,
                              max_uses=max_uses)
    return grant


def test_a_query_past_the_budget_is_refused_even_sent_straight_by_the_owners_account(suite: Suite) -> None:
    owner = suite.departments[0]
    grant = _query_grant(suite, "straight past the budget")
    assert _record(owner, [_query(grant, CAP)] * 3 + [_query(grant, BUDGET - 3 * CAP + 1), _query(grant, BUDGET - 3 * CAP)]) == [
        ("recorded", 300_000), ("recorded", 600_000), ("recorded", 900_000),
        ("refused", Refusal.BUDGET_EXHAUSTED), ("recorded", BUDGET)]
    assert _record(owner, [_query(grant, 1)]) == [("refused", Refusal.BUDGET_EXHAUSTED)]
    # Nor around recordQueries: a Query use spends no ε, and no query grant takes it.
    with pytest.raises(ContractError) as bypass:
        owner.usage.record_use(keccak(b"bypass"), Use(grant, Action.QUERY, b"\x01" * 32))
    assert bypass.value.name == "UsageEpsilonOverCap"
    assert owner.usage.epsilon_spent(grant) == BUDGET and owner.usage.uses_of(grant) == 4


def test_epsilon_over_the_cap_or_zero_is_refused(suite: Suite) -> None:
    owner = suite.departments[0]
    grant = _query_grant(suite, "over the cap")
    assert _record(owner, [_query(grant, CAP + 1), _query(grant, 0), _query(grant, 2**64 - 1)]) == [
        ("refused", Refusal.EPSILON_OVER_CAP)] * 3
    assert owner.usage.epsilon_spent(grant) == 0 and owner.usage.uses_of(grant) == 0


def test_a_grant_without_privacy_terms_takes_no_query(suite: Suite) -> None:
    owner = suite.departments[0]
    grant = _query_grant(suite, "no privacy terms", terms=None)
    assert _record(owner, [_query(grant, 1)]) == [("refused", Refusal.NO_PRIVACY_TERMS)]
    assert not owner.grants.privacy_terms(grant).present


def test_neither_the_consumer_nor_another_department_can_record_queries(suite: Suite) -> None:
    grant = _query_grant(suite, "recorded by others")
    for other in (suite.consumers[0], suite.departments[1], suite.coordinator):
        assert _record(other, [_query(grant, 1)]) == [("refused", Refusal.CALLER_NOT_ALLOWED)]
    assert suite.departments[0].usage.epsilon_spent(grant) == 0


def test_privacy_terms_cannot_be_asked_for_loosely(suite: Suite) -> None:
    """k of 1 would release single people; a cap over the budget or of zero means nothing."""
    for label, terms in (("k of one", PrivacyTerms(BUDGET, CAP, 1)), ("cap over budget", PrivacyTerms(CAP, BUDGET, 5)),
                         ("zero cap", PrivacyTerms(BUDGET, 0, 5))):
        with pytest.raises(ContractError) as refused:
            _query_grant(suite, label, terms=terms)
        assert refused.value.name == "GrantsInvalidPrivacyTerms"


def _released(n: int) -> QueryResult:
    return QueryResult(columns=["n"], rows=[[n]], release_threshold=15, rows_scanned=100, epsilon=CAP,
                       normalised_sql='SELECT COUNT(*) AS "n" FROM "data"', query_hash=keccak(b"count"),
                       result_json=b'{"n":%d}' % n, result_hash=keccak(b'{"n":%d}' % n))


def test_concurrent_reservations_never_exceed_the_budget(suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner = suite.departments[0]
    assert owner.sender is not None
    tag = database_url.split(":", 1)[0]
    grant = _query_grant(suite, f"concurrent reservations {tag}")
    grant_id = "0x" + grant.hex()

    def ask(n: int) -> str:
        with sessions() as session:
            try:
                reserve_and_queue(session, owner, grant_id, epsilon_micro=CAP, max_uses=50, budget=BUDGET,
                                  release=lambda: _released(n))
                return "queued"
            except Conflict:
                return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers.count("queued") == 3, answers  # 3 x 0.3 of a budget of 1: the fourth would overspend
    with sessions() as session:
        assert privacy_status(session, owner, grant_id).available == BUDGET - 3 * CAP
        status = privacy_status(session, owner, grant_id)
        assert (status.spent, status.pending, status.available) == (0, 3 * CAP, BUDGET - 3 * CAP)
    OutboxWorker(sessions, owner, owner.sender).run_until_idle(timeout=120)
    assert owner.usage.epsilon_spent(grant) == 3 * CAP
    with sessions() as session:
        status = privacy_status(session, owner, grant_id)
        assert (status.spent, status.pending, status.available) == (3 * CAP, 0, BUDGET - 3 * CAP)
        with pytest.raises(Conflict, match="budget"):
            reserve_and_queue(session, owner, grant_id, epsilon_micro=CAP, max_uses=50, budget=BUDGET,
                              release=lambda: _released(9))
    engine.dispose()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=CAP + CAP // 2), min_size=1, max_size=8))
def test_epsilon_spent_is_the_sum_of_accepted_queries_and_never_exceeds_the_budget(suite: Suite,
                                                                                   epsilons: list[int]) -> None:
    owner = suite.departments[0]
    grant = _query_grant(suite, f"property {next(_serial)}")
    outcomes = _record(owner, [_query(grant, e) for e in epsilons])
    spent, expected = 0, []
    for epsilon in epsilons:  # the contract's rule, in Python
        if epsilon == 0 or epsilon > CAP:
            expected.append(("refused", Refusal.EPSILON_OVER_CAP))
        elif spent + epsilon > BUDGET:
            expected.append(("refused", Refusal.BUDGET_EXHAUSTED))
        else:
            spent += epsilon
            expected.append(("recorded", spent))
    assert outcomes == expected
    accepted = sum(e for e, (what, _) in zip(epsilons, outcomes) if what == "recorded")
    assert owner.usage.epsilon_spent(grant) == accepted == spent <= BUDGET
