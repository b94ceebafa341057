"""``node reindex`` through the CLI: a row the chain does not back, one changed and one missing
are reported by table and key, and ``--replace`` swaps the rebuilt index in on a stopped node only
(10,000 events: :mod:`tests.node.maintenance.test_reindex_10000`, with a suite of its own)."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select, update

from api.cli import main
from ledger import ids
from ledger.clients import Action, Rights, Use
from ledger.deploy import Ledger, department_id
from node.db import make_engine, session_factory
from node.models import ChainEventRow, Grant, Use as UseRow, Watermark
from node.service import NodeService
from node.settings import NodeSettings
from tests.utils.ledgers import DEPARTMENTS, Suite

BATCH = 100


def _grant(owner: Ledger, holder: Ledger, label: str, max_uses: int) -> bytes:
    """A grade-1 dataset of the first department and ``holder``'s grant on it for ``max_uses`` queries."""
    code = hashlib.sha256(f"{label} dataset".encode()).digest()
    owner.registry.register_dataset(code, metadata="{}", category=b"\x02" * 32, grade=1, update_interval=60,
                                    rights=Rights(department_id(DEPARTMENTS[0])))
    key = hashlib.sha256(f"{label} grant".encode()).digest()
    holder.grants.request_access(key, dataset_id=ids.dataset_id(department_id(DEPARTMENTS[0]), code),
                                 purpose="a test of the reindex", schema_hash=b"\x04" * 32, fields=[],
                                 actions=Action.mask(Action.QUERY), duration=86400, max_uses=max_uses)
    assert holder.sender is not None
    grant = ids.grant_id(holder.sender.address, key)
    owner.grants.approve(grant)
    return grant


def _uses(owner: Ledger, grant: bytes, label: str, count: int) -> None:
    """``count`` uses of ``grant`` in ``recordUses`` batches, sent pipelined and then awaited."""
    sent = [owner.usage.submit_uses(hashlib.sha256(f"{label} batch {b}".encode()).digest(), [
        Use(grant, Action.QUERY, hashlib.sha256(f"{label} use {b} {i}".encode()).digest()) for i in range(BATCH)])
        for b in range(count // BATCH)]
    for tx in sent:
        assert owner.w3.eth.wait_for_transaction_receipt(tx.tx_hash, timeout=120)["status"] == 1


def test_a_row_the_chain_does_not_back_is_found_and_replace_puts_the_chain_s_back(
        node_settings: NodeSettings, suite: Suite, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    owner = suite.departments[0]
    label = f"tampered {database_url.split(':', 1)[0]}"
    grant = _grant(owner, suite.consumers[1], label, 1000)
    _uses(owner, grant, label, BATCH)
    service = NodeService.start(node_settings)
    try:
        service.indexer.catch_up()
        assert main(["node", "reindex"]) == 0
        assert capsys.readouterr().out.splitlines()[0].endswith(": equal")
        forged, real = "0x" + "ab" * 32, "0x" + grant.hex()
        with service.sessions() as session:
            session.add(Grant(grant_id=forged, dataset_id="0x" + "cd" * 32, grantee=owner.sender.address,  # type: ignore[union-attr]
                              status="active", purpose_hash="0x" + "00" * 32, fields=[], actions=1, duration=1,
                              max_uses=1, requested_block=1))
            session.execute(update(Grant).where(Grant.grant_id == real).values(uses=3))
            dropped = session.scalars(select(UseRow).order_by(UseRow.id.desc()).limit(1)).one()
            session.delete(dropped)
            newest = session.scalar(select(ChainEventRow.id).order_by(ChainEventRow.id.desc()).limit(1))
            session.merge(Watermark(name="monitor", value=newest))
            session.commit()
        assert main(["node", "reindex", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        found = {f"{d['table']} {'/'.join(map(str, d['key']))}: {d['problem']}" for d in report["differences"]}
        assert found == {
            f"grants {forged}: only in the live index: the chain does not back it",
            f"grants {real}: uses is 3 in the live index, {BATCH} from the chain",
            f"uses {dropped.block_number}/{dropped.log_index}: missing from the live index: the chain has it",
        }, found
        assert report["ignored_columns"] == {"chain_events": ["id"], "uses": ["id"], "notes": ["created_at"]}
        assert main(["node", "reindex", "--replace"]) == 1
        assert "stop it first" in capsys.readouterr().err
    finally:
        service.close()
    assert main(["node", "reindex", "--replace"]) == 0
    assert "replaced: the live index now holds" in capsys.readouterr().out
    assert main(["node", "reindex"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": equal")
    engine = make_engine(node_settings.sql_url)
    try:
        with session_factory(engine)() as session:
            assert session.get(Grant, forged) is None and session.get(Grant, real).uses == BATCH  # type: ignore[union-attr]
            assert session.get(Watermark, "monitor").value == session.scalar(  # type: ignore[union-attr]
                select(ChainEventRow.id).order_by(ChainEventRow.id.desc()).limit(1))
    finally:
        engine.dispose()
