"""The indexer follows the chain through a reorg and is idempotent across restarts."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, AnchorKind, Rights, Use
from ledger.deploy import department_id
from ledger.events import fetch_events
from node.db import make_engine, migrate, session_factory
from node.chain.indexer import Indexer, event_row
from node.models import CatalogDataset, CatalogVersion, ChainEventRow, Grant, IndexerCursor
from node.models import Use as UseRow
from tests.utils.ledgers import Suite


def _root(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _rpc(chain: LocalChain, method: str, *params: Any) -> Any:
    return chain.web3().provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def _chain_rows(suite: Suite, start: int) -> list[tuple[Any, ...]]:
    ledger = suite.coordinator
    head = ledger.w3.eth.block_number
    return [
        (r.block_number, r.block_hash, r.tx_hash, r.log_index, r.name, r.args)
        for r in map(event_row, fetch_events(ledger.w3, ledger.events, start, head))
    ]


def _indexed_rows(sessions) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.scalars(select(ChainEventRow).order_by(ChainEventRow.block_number, ChainEventRow.log_index))
        return [(r.block_number, r.block_hash, r.tx_hash, r.log_index, r.name, r.args) for r in rows]


def test_index_matches_the_chain_after_a_reorg(chain: LocalChain, suite: Suite, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner, consumer = suite.departments[0], suite.consumers[0]
    run = database_url.split(":", 1)[0].encode()  # each database gets its own dataset and grant
    dataset = hashlib.sha256(b"reorg dataset " + run).digest()
    owner.registry.register_dataset(dataset, metadata="{}", category=b"\x02" * 32, grade=1,
                                    update_interval=60, rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), dataset)
    key = hashlib.sha256(b"reorg grant " + run).digest()
    consumer.grants.request_access(key, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x04" * 32,
                                   fields=["a"], actions=Action.mask(Action.QUERY), duration=3600, max_uses=50)
    grant = ids.grant_id(suite.accounts[7].address, key)
    owner.grants.approve(grant)
    indexer = Indexer(sessions, owner, confirmations=1, chunk=7)
    indexer.catch_up()

    snapshot = _rpc(chain, "evm_snapshot")
    owner.usage.record_uses(hashlib.sha256(b"before-reorg " + run).digest(), [Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(5)])
    owner.anchors.anchor(_root(f"undone {database_url}"), 1, AnchorKind.LIFECYCLE_EVIDENCE)
    owner.grants.revoke(grant)
    owner.registry.update_metadata(dataset, '{"name":"undone"}')
    owner.registry.add_version(dataset, _root(f"undone version {database_url}"), '{"fields":["a"]}', 1, 1)
    indexer.catch_up()
    with sessions() as session:
        assert session.get(CatalogDataset, "0x" + dataset.hex()).metadata_text == '{"name":"undone"}'  # type: ignore[union-attr]
        assert session.get(CatalogVersion, ("0x" + dataset.hex(), 1)) is not None
        assert session.get(Grant, "0x" + grant.hex()).status == "revoked"  # type: ignore[union-attr]
        assert len(session.scalars(select(UseRow).where(UseRow.grant_id == "0x" + grant.hex())).all()) == 5

    assert _rpc(chain, "evm_revert", snapshot)
    owner.sender.nonces.resync()  # type: ignore[union-attr]
    consumer.sender.nonces.resync()  # type: ignore[union-attr]
    owner.usage.record_uses(hashlib.sha256(b"after-reorg " + run).digest(), [Use(grant, Action.QUERY, bytes([9]) * 32)] * 2)
    owner.anchors.anchor(_root(f"instead {database_url}"), 2, AnchorKind.LIFECYCLE_EVIDENCE)
    owner.registry.update_metadata(dataset, '{"name":"instead"}')
    _rpc(chain, "anvil_mine", "0x5")
    indexer.catch_up()

    start = owner.manifest.deployment_block
    assert _indexed_rows(sessions) == _chain_rows(suite, start)
    with sessions() as session:
        restored = session.get(Grant, "0x" + grant.hex())
        assert restored is not None and restored.status == "active" and restored.uses == 2
        uses = session.scalars(select(UseRow).where(UseRow.grant_id == "0x" + grant.hex()))
        assert [u.evidence_hash for u in uses] == ["0x" + "09" * 32] * 2
        cursor = session.get(IndexerCursor, "events")
        assert cursor is not None and cursor.block_hash == owner.w3.eth.get_block(cursor.block_number)["hash"].to_0x_hex()
        # The catalog follows the chain too: the undone version is gone, the metadata the one mined instead.
        entry = session.get(CatalogDataset, "0x" + dataset.hex())
        assert entry is not None and (entry.metadata_text, entry.metadata_hash) == (
            '{"name":"instead"}', "0x" + ids.text_hash('{"name":"instead"}').hex())
        assert session.get(CatalogVersion, ("0x" + dataset.hex(), 1)) is None
    engine.dispose()


def test_restarting_the_indexer_at_any_point_indexes_each_event_once(chain: LocalChain, suite: Suite,
                                                                      database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    owner = suite.departments[1]
    for i in range(6):
        owner.anchors.anchor(_root(f"restart {i} {database_url}"), 1, AnchorKind.LIFECYCLE_EVIDENCE)
    first = Indexer(sessions, owner, confirmations=1, chunk=3)
    first.step()
    first.step()
    Indexer(sessions, owner, confirmations=1, chunk=4).catch_up()
    Indexer(sessions, owner, confirmations=1, chunk=4).catch_up()
    assert _indexed_rows(sessions) == _chain_rows(suite, owner.manifest.deployment_block)
    engine.dispose()
