"""Uses gathered into batches go through the outbox; refused ones stay in the log."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from ledger import ids
from ledger.clients import Action, Rights
from ledger.deploy import department_id
from node.errors import InvalidInput
from node.chain.indexer import Indexer
from node.models import Grant
from node.models import Use as UseRow
from node.service import NodeService
from node.access.uses import UseRequest, queue_uses
from tests.utils.ledgers import Suite


def _h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _grant(suite: Suite, tag: str, max_uses: int) -> bytes:
    """An approved grant of the first consumer on a new dataset of the first department."""
    owner, consumer = suite.departments[0], suite.consumers[0]
    assert owner.sender is not None
    owner.sender.nonces.resync()  # the node's outbox sends from the same account
    dataset, grant = hashlib.sha256(f"uses dataset {tag}".encode()).digest(), hashlib.sha256(f"uses grant {tag}".encode()).digest()
    owner.registry.register_dataset(dataset, metadata="{}", category=b"\x02" * 32, grade=1,
                                    update_interval=0, rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), dataset)
    consumer.grants.request_access(grant, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x04" * 32,
                                   fields=[], actions=Action.mask(Action.DOWNLOAD), duration=3600, max_uses=max_uses)
    grant = ids.grant_id(suite.accounts[7].address, grant)
    owner.grants.approve(grant)
    return grant


def _requests(tag: str, grant: bytes, count: int) -> list[UseRequest]:
    return [UseRequest(_h(f"{tag} use {i}"), "0x" + grant.hex(), Action.DOWNLOAD, _h(f"{tag} bytes {i}"))
            for i in range(count)]


def test_uses_over_quota_are_refused_on_chain_and_kept(service: NodeService, suite: Suite, database_url: str) -> None:
    owner = suite.departments[0]
    tag = database_url.split(":", 1)[0]
    grant = _grant(suite, tag, 230)
    requests = _requests(tag, grant, 250)
    with service.sessions() as session:
        # Batches of 100: the quota runs out inside the third.
        entries = queue_uses(session, requests, batch_size=100)
        again = queue_uses(session, requests, batch_size=100)
        session.commit()
    assert len(entries) == 3 and [e.id for e in again] == [e.id for e in entries]
    service.outbox.run_until_idle(timeout=120)
    assert owner.usage.uses_of(grant) == 230
    Indexer(service.sessions, service.ledger, confirmations=1).catch_up()
    with service.sessions() as session:
        rows = session.scalars(select(UseRow).where(UseRow.grant_id == "0x" + grant.hex())).all()
        indexed = session.get(Grant, "0x" + grant.hex())
    assert len(rows) == 250
    assert sorted(r.sequence for r in rows if r.refused is None) == list(range(1, 231))
    assert {r.refused for r in rows if r.refused is not None} == {8} and sum(r.refused is not None for r in rows) == 20
    assert indexed is not None and indexed.uses == 230


def test_malformed_uses_are_refused_before_anything_is_queued(service: NodeService) -> None:
    with service.sessions() as session:
        with pytest.raises(InvalidInput, match="grant_id"):
            queue_uses(session, [UseRequest(_h("u"), "0x1234", Action.QUERY, _h("e"))])
        with pytest.raises(InvalidInput, match="batch_size"):
            queue_uses(session, [], batch_size=0)
