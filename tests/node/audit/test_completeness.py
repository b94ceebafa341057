"""The completeness check follows the chain through a reorg: the chain's list it keeps per trace
is dropped when the chain no longer has the block it was read up to, and an index that has not
followed the reorg yet is reported as such, not as a trace with events missing."""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.chain import LocalChain
from ledger.clients import Action, Use
from node.audit.chainsets import Subject
from node.audit.completeness import TraceChecker
from node.db import make_engine, migrate, session_factory
from node.chain.indexer import Indexer
from tests.utils.ledgers import Suite, approved_grant


def _rpc(chain: LocalChain, method: str, *params: Any) -> Any:
    return chain.web3().provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def test_a_trace_is_checked_complete_through_a_reorg(chain: LocalChain, suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner, holder = suite.departments[0], suite.consumers[0]
    run = database_url.split(":", 1)[0].encode()
    dataset, grant = approved_grant(owner, holder, f"completeness {run.decode()}", Action.QUERY)
    indexer, checker = Indexer(sessions, owner, confirmations=1), TraceChecker(owner, sessions)
    indexer.catch_up()
    subjects = (Subject.dataset("0x" + dataset.hex()), Subject.consumer(holder.sender.address))  # type: ignore[union-attr]
    before = [checker.check(s) for s in subjects]
    assert all(c.ok and c.on_chain == c.in_index > 0 for c in before), before

    snapshot = _rpc(chain, "evm_snapshot")
    owner.usage.record_uses(hashlib.sha256(b"undone " + run).digest(), [Use(grant, Action.QUERY, bytes([i]) * 32)
                                                                        for i in range(3)])
    indexer.catch_up()
    assert [checker.check(s).on_chain for s in subjects] == [c.on_chain + 3 for c in before]

    assert _rpc(chain, "evm_revert", snapshot)
    for ledger in (owner, holder):
        ledger.sender.nonces.resync()  # type: ignore[union-attr]
    behind = checker.check(subjects[0])
    assert not behind.ok and "the indexer has not followed a reorg yet" in behind.problems[0], behind

    owner.usage.record_uses(hashlib.sha256(b"instead " + run).digest(), [Use(grant, Action.QUERY, b"\x09" * 32)])
    _rpc(chain, "anvil_mine", "0x3")
    indexer.catch_up()
    after = [checker.check(s) for s in subjects]
    assert all(c.ok for c in after), [c.problems for c in after]
    assert [c.on_chain for c in after] == [c.in_index for c in after] == [c.on_chain + 1 for c in before]
    engine.dispose()
