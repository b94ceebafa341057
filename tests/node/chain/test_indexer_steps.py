"""A step's batched SQL gives the tables that indexing block by block gives, whatever the steps'
sizes; logs read ahead are not believed past a reorg; a step with nothing new writes nothing; and
the bulk insert writes the rows SQLAlchemy's own INSERT writes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text

from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, AnchorKind, Rights, Use
from ledger.deploy import department_id
from node.chain.bulk import insert_rows
from node.chain.indexer import EVENTS, Indexer
from node.db import make_engine, migrate, session_factory
from node.maintenance.reindex import DERIVED, compare, read_rows
from tests.node.chain.test_indexer import _chain_rows, _indexed_rows, _rpc
from tests.utils.ledgers import Suite


def _engine(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def _index(url: str, suite: Suite, **steps: int) -> Engine:
    engine = _engine(url)
    Indexer(session_factory(engine), suite.departments[0], confirmations=1, **steps).catch_up()
    return engine


def _stored_args(engine: Engine) -> list[tuple[Any, ...]]:
    """Each event's key and its arguments' JSON exactly as stored, in id order."""
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            text("SELECT block_number, log_index, CAST(args AS TEXT) FROM chain_events ORDER BY id"))]


def _differences(one: Engine, other: Engine) -> list[str]:
    with one.connect() as a, other.connect() as b:
        return [str(d) for derived in DERIVED for d in compare(derived, read_rows(a, derived), read_rows(b, derived))]


def _scenario(suite: Suite, label: str) -> None:
    """Events of every projected kind, the order-dependent ones close together: a grant requested,
    approved, used and revoked; a text published twice; an issue opened, returned,
    repaired and closed."""
    owner, other, consumer = suite.departments[0], suite.departments[1], suite.consumers[0]
    code = hashlib.sha256(f"{label} dataset".encode()).digest()
    owner.registry.register_dataset(code, metadata='{"name":"ünï"}', category=b"\x02" * 32, grade=1,
                                    update_interval=60, rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), code)
    owner.registry.add_version(dataset, hashlib.sha256(f"{label} v1".encode()).digest(), '{"fields":["a"]}', 10, 2)
    owner.registry.update_metadata(dataset, '{"name":"second"}')
    owner.registry.freeze(dataset, b"\x01" * 32)
    owner.registry.unfreeze(dataset)
    key = hashlib.sha256(f"{label} grant".encode()).digest()
    consumer.grants.request_access(key, dataset_id=dataset, purpose=f"{label}: a purpose", schema_hash=b"\x04" * 32,
                                   fields=["a"], actions=Action.mask(Action.QUERY), duration=3600, max_uses=50)
    grant = ids.grant_id(suite.accounts[7].address, key)
    owner.grants.approve(grant, price_per_use=7)
    owner.usage.record_uses(hashlib.sha256(f"{label} uses".encode()).digest(),
                            [Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(4)]
                            + [Use(grant, Action.DOWNLOAD, b"\x05" * 32), Use(b"\x09" * 32, Action.QUERY, b"\x06" * 32)])
    owner.anchors.publish_text(f"{label}: a reason")
    owner.anchors.publish_text(f"{label}: a reason")
    owner.grants.revoke(grant, b"\x03" * 32)
    other.quality.open_issue(hashlib.sha256(label.encode()).digest(), dataset, 1, b"\x05" * 32)
    issue = other.quality.issue_id_of(suite.accounts[2].address, hashlib.sha256(label.encode()).digest())
    other.quality._send("returnToSource", issue, b"\x06" * 32)  # no client method: the node never returns one
    owner.registry.add_version(dataset, hashlib.sha256(f"{label} v2".encode()).digest(), '{"fields":["a"]}', 10, 2)
    owner.quality.submit_repair(issue, 2)
    other.quality.verify_and_close(issue)


def test_steps_of_any_size_index_the_same_tables(suite: Suite, database_url: str, tmp_path: Path) -> None:
    _scenario(suite, f"steps {database_url.split(':', 1)[0]}")
    block_by_block = _index(f"sqlite:///{tmp_path}/blocks.db", suite, chunk=1, step_events=1)
    one_step = _index(database_url, suite)
    cut_up = _index(f"sqlite:///{tmp_path}/cut.db", suite, step_events=3)
    try:
        assert _differences(block_by_block, one_step) == []
        assert _differences(block_by_block, cut_up) == []
        stored = _stored_args(block_by_block)
        assert len(stored) > 30 and _stored_args(one_step) == stored == _stored_args(cut_up)
        assert [key for *key, _ in stored] == sorted(key for *key, _ in stored)  # ids follow the chain
    finally:
        for engine in (block_by_block, one_step, cut_up):
            engine.dispose()


def test_logs_read_ahead_are_read_again_after_a_reorg(chain: LocalChain, suite: Suite, tmp_path: Path) -> None:
    owner = suite.departments[1]
    engine = _engine(f"sqlite:///{tmp_path}/node.db")
    sessions = session_factory(engine)
    indexer = Indexer(sessions, owner, confirmations=1)
    indexer.catch_up()
    indexer.step_events = 2

    def anchor(label: str) -> None:
        owner.anchors.anchor(hashlib.sha256(label.encode()).digest(), 1, AnchorKind.LIFECYCLE_EVIDENCE)

    anchor("kept 1")
    anchor("kept 2")
    snapshot = _rpc(chain, "evm_snapshot")
    for i in range(4):
        anchor(f"undone {i}")
    assert indexer.step() == 2  # the kept two; the four undone ones are read and kept for the next step
    assert _rpc(chain, "evm_revert", snapshot)
    owner.sender.nonces.resync()  # type: ignore[union-attr]
    for i in range(5):
        anchor(f"instead {i}")
    indexer.catch_up()
    try:
        assert _indexed_rows(sessions) == _chain_rows(suite, owner.manifest.deployment_block)
    finally:
        engine.dispose()


def test_a_step_with_nothing_new_asks_the_chain_once_and_writes_nothing(
        suite: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = suite.departments[2]
    engine = _engine(f"sqlite:///{tmp_path}/node.db")
    indexer = Indexer(session_factory(engine), owner, confirmations=1)
    indexer.catch_up()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    batches: list[Any] = []
    call = owner.rpc.call
    monkeypatch.setattr(owner.rpc, "call", lambda calls, **kw: batches.append(calls) or call(calls, **kw))
    try:
        assert indexer.step() == 0
        assert len(batches) == 1 and statements and all(s.lstrip().upper().startswith("SELECT") for s in statements)
    finally:
        engine.dispose()


def test_bulk_rows_are_the_rows_sqlalchemy_writes(database_url: str) -> None:
    engine = _engine(database_url)
    rows = [{"block_number": n, "block_hash": "0x" + f"{n:064x}", "block_time": None if n % 2 else 1_700_000_000 + n,
             "tx_hash": "0x" + "ab" * 32, "log_index": 0, "contract": "AnchorRegistry", "name": "TextPublished",
             "args": {"text": 'ünï "quoted" \\ back\nnewline\ttab ✓', "big": str(2**200), "n": n, "ok": True,
                      "list": ["0x" + "cd" * 32, 2**53 - 1], "none": None},
             "dataset_id": None, "grant_id": "0x" + "ef" * 32 if n % 3 else None, "consumer": None} for n in range(6)]
    sessions = session_factory(engine)
    try:
        with sessions() as session:
            insert_rows(session, EVENTS, rows[:3])
            session.execute(insert(EVENTS), [dict(row, block_number=row["block_number"] + 100) for row in rows[:3]])
            insert_rows(session, EVENTS, rows[3:])
            session.commit()
        with engine.connect() as connection:
            stored = [tuple(r) for r in connection.execute(text(
                "SELECT block_number, block_hash, block_time, tx_hash, log_index, contract, name, CAST(args AS TEXT), "
                "dataset_id, grant_id, consumer FROM chain_events ORDER BY id"))]
        assert [r[0] for r in stored] == [0, 1, 2, 100, 101, 102, 3, 4, 5]
        assert stored[:3] == [(r[0] - 100, *r[1:]) for r in stored[3:6]]
    finally:
        engine.dispose()
