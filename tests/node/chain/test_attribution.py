"""Refusals are filed under whoever attempted them, through a reorg and in rows indexed before
the rule (the 0005 migration)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import insert, select

from ledger.chain import LocalChain
from ledger.clients import Action, Use
from node.db import make_engine, migrate, session_factory
from node.chain.indexer import Indexer
from node.models import Alert, ChainEventRow
from node.models import Use as UseRow
from node.audit.monitor import Monitor
from tests.utils.ledgers import Suite, approved_grant

CALLER_NOT_ALLOWED = 2


def _rpc(chain: LocalChain, method: str, *params: Any) -> Any:
    return chain.web3().provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def _refusals(sessions, grant: str) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.scalars(select(ChainEventRow).where(ChainEventRow.name == "UseRefused",
                                                           ChainEventRow.grant_id == grant).order_by(ChainEventRow.id))
        return [(r.args["actor"], r.consumer, r.dataset_id) for r in rows]


def test_a_callers_attempt_stays_the_callers_through_a_reorg(chain: LocalChain, suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner, holder, intruder = suite.departments[0], suite.consumers[0], suite.consumers[1]
    run = database_url.split(":", 1)[0].encode()
    dataset, grant = approved_grant(owner, holder, f"attribution {run.decode()}", Action.QUERY,
                                    Action.ANALYSE)
    indexer, monitor = Indexer(sessions, owner, confirmations=1), Monitor(sessions)
    indexer.catch_up()
    grant_hex, dataset_hex = "0x" + grant.hex(), "0x" + dataset.hex()

    snapshot = _rpc(chain, "evm_snapshot")
    intruder.usage.record_uses(hashlib.sha256(b"intruder " + run).digest(), [Use(grant, Action.ANALYSE, b"\x04" * 32)])
    indexer.catch_up()
    monitor.run_until_current()
    assert _refusals(sessions, grant_hex) == [(intruder.sender.address, intruder.sender.address, dataset_hex)]  # type: ignore[union-attr]

    # The reorg undoes the intruder's attempt; the holder's own attempt at an owner's action lands instead.
    assert _rpc(chain, "evm_revert", snapshot)
    for ledger in (owner, holder, intruder):
        ledger.sender.nonces.resync()  # type: ignore[union-attr]
    holder.usage.record_uses(hashlib.sha256(b"holder " + run).digest(), [Use(grant, Action.QUERY, b"\x05" * 32)])
    owner.usage.record_uses(hashlib.sha256(b"owner " + run).digest(), [Use(grant, Action.QUERY, b"\x06" * 32)])
    _rpc(chain, "anvil_mine", "0x3")
    indexer.catch_up()
    monitor.run_until_current()

    assert _refusals(sessions, grant_hex) == [(holder.sender.address, holder.sender.address, dataset_hex)]  # type: ignore[union-attr]
    with sessions() as session:
        uses = session.scalars(select(UseRow).where(UseRow.grant_id == grant_hex).order_by(UseRow.block_number)).all()
        assert [(u.actor, u.refused, u.dataset_id) for u in uses] == [
            (holder.sender.address, CALLER_NOT_ALLOWED, dataset_hex), (owner.sender.address, None, dataset_hex)]  # type: ignore[union-attr]
        alerts = session.scalars(select(Alert).where(Alert.grant_id == grant_hex, Alert.kind == "refused")).all()
        # The alert on the intruder was raised before the reorg and stays; nothing names the holder for it.
        assert {a.consumer for a in alerts} == {intruder.sender.address, holder.sender.address}  # type: ignore[union-attr]
    engine.dispose()


def test_refusals_indexed_before_the_rule_are_filed_again_by_the_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, "0003")
    holder, intruder = "0x" + "77" * 20, "0x" + "88" * 20
    dataset, grant = "0x" + "d1" * 32, "0x" + "9a" * 32

    def refusal(log_index: int, actor: str, reason: int) -> dict[str, Any]:
        return {"block_number": 7, "block_hash": "0x" + "bb" * 32, "tx_hash": "0x" + "cc" * 32, "log_index": log_index,
                "contract": "UsageLog", "name": "UseRefused", "dataset_id": dataset, "grant_id": grant,
                "consumer": holder, "args": {"grantId": grant, "actor": actor, "action": 5,
                                             "evidenceHash": "0x" + "ee" * 32, "reason": reason}}

    with engine.begin() as connection:
        connection.execute(insert(ChainEventRow.__table__), [refusal(0, intruder, CALLER_NOT_ALLOWED),
                                                             refusal(1, holder, 8)])
        connection.execute(insert(UseRow.__table__), [
            {"grant_id": grant, "dataset_id": None, "actor": actor, "action": 5, "evidence_hash": "0x" + "ee" * 32,
             "sequence": None, "refused": reason, "block_number": 7, "log_index": i, "tx_hash": "0x" + "cc" * 32}
            for i, (actor, reason) in enumerate(((intruder, CALLER_NOT_ALLOWED), (holder, 8)))])
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        rows = session.scalars(select(ChainEventRow).order_by(ChainEventRow.log_index)).all()
        assert [(r.consumer, r.dataset_id) for r in rows] == [(intruder, dataset), (holder, dataset)]
        assert set(session.scalars(select(UseRow.dataset_id))) == {dataset}
    engine.dispose()
