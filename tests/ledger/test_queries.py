"""The query-grant clients against the real contracts: privacy terms as requested, ε counted
exactly, refusals named by their ``Refusal`` value."""

from __future__ import annotations

from eth_utils import keccak

from ledger.clients import Action, PrivacyTerms, QueryInput, Refusal
from tests.utils.ledgers import Suite, approved_grant

BOUNDS = '{"年龄":[0,120],"家庭人口":[1,12]}'


def test_privacy_terms_and_epsilon_spent_read_back(suite: Suite) -> None:
    owner, consumer = suite.departments[0], suite.consumers[0]
    terms = PrivacyTerms(epsilon_budget=1_000_000, epsilon_cap=400_000, min_group_size=10, bounds=BOUNDS)
    _, grant = approved_grant(owner, consumer, "client terms", Action.QUERY, terms=terms)
    _, plain = approved_grant(owner, consumer, "client plain", Action.QUERY)

    kept = owner.grants.privacy_terms(grant)
    assert (kept.epsilon_budget, kept.epsilon_cap, kept.min_group_size) == (1_000_000, 400_000, 10)
    assert kept.bounds_hash == keccak(BOUNDS.encode()) and kept.present
    assert not owner.grants.privacy_terms(plain).present

    queries = [QueryInput(grant, keccak(b"q%d" % i), keccak(b"r%d" % i), 400_000, 100 + i) for i in range(3)]
    receipt = owner.usage.record_queries(keccak(b"client batch"), [*queries, QueryInput(plain, b"\x01" * 32, b"\x02" * 32, 1, 1)])
    events = [e for e in (owner.events.decode(log) for log in receipt["logs"]) if e is not None]
    refused = [Refusal(e.args["reason"]) for e in events if e.name == "UseRefused"]
    assert refused == [Refusal.BUDGET_EXHAUSTED, Refusal.NO_PRIVACY_TERMS]
    recorded = [e.args for e in events if e.name == "QueryRecorded"]
    assert [(r["sequence"], r["epsilon"], r["epsilonSpent"], r["rowsScanned"]) for r in recorded] == [
        (1, 400_000, 400_000, 100), (2, 400_000, 800_000, 101)]
    assert owner.usage.epsilon_spent(grant) == 800_000 and owner.usage.uses_of(grant) == 2


def test_encoded_record_queries_matches_web3s_encoding(suite: Suite) -> None:
    owner = suite.departments[0]
    queries = [QueryInput(b"\x05" * 32, b"\x06" * 32, b"\x07" * 32, 12, 2**40)]
    call = owner.usage.record_queries_call(b"\x09" * 32, queries)
    expected = owner.usage.contract.get_function_by_name("recordQueries")(
        b"\x09" * 32, [q.as_tuple() for q in queries])._encode_transaction_data()
    assert "0x" + call.data.hex() == expected
