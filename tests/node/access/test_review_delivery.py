"""Review decisions checked against the chain, deliveries refused for each reason the grant
gives, a frozen dataset, and the live usage stream."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from pathlib import Path

import pytest

from ledger import ids
from ledger.clients import Action, GrantStatus
from ledger.deploy import Ledger
from node.access import review
from node.access.delivery.fingerprint import plain_masks
from node.access.delivery.serve import Request, deliver
from node.errors import Conflict, DeliveryRefused, InvalidInput, NotFound, NotPermitted
from node.models import Dataset, Note
from node.audit.monitor import UsageEvent, usage_stream
from node.catalog.register import register_dataset, register_version
from node.service import NodeService
from tests.utils.ledgers import Suite

CSV = "name,phone,visits\nLi Lei,13800138000,3\nHan Meimei,13900139000,5\n"


def _dataset(service: NodeService, tmp_path: Path, code: str) -> str:
    path = tmp_path / f"{code}.csv"
    path.write_text(CSV)
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code=code, name=code,
                                   category="health", grade=1, update_interval=0,
                                   field_classes={"name": "name", "phone": "mobile"})
        register_version(session, dataset_id=dataset.dataset_id, path=path)
        session.commit()
    service.settle()
    return dataset.dataset_id


def _request(consumer: Ledger, dataset_id: str, tag: str) -> str:
    grant = hashlib.sha256(tag.encode()).digest()
    consumer.grants.request_access(grant, dataset_id=bytes.fromhex(dataset_id[2:]), purpose=f"a test: {tag}",
                                   schema_hash=b"\x00" * 32, fields=[], actions=Action.mask(Action.DOWNLOAD),
                                   duration=3600, max_uses=10)
    assert consumer.sender is not None
    return "0x" + ids.grant_id(consumer.sender.address, grant).hex()


def _deliver(service: NodeService, grant_id: str, consumer: Ledger) -> Path:
    assert consumer.sender is not None
    with service.sessions() as session:
        row = deliver(session, service.ledger, department=service.settings.department_id,
                      key=service.fingerprint_key, out_dir=service.deliveries_dir,
                      request=Request(grant_id, consumer.sender.address), store=service.store)
    return Path(row.path)


def test_decisions_are_checked_against_the_chain(service: NodeService, suite: Suite, tmp_path: Path,
                                                 database_url: str) -> None:
    tag = database_url.split(":", 1)[0]
    department = service.settings.department_id
    dataset_id = _dataset(service, tmp_path, f"review-{tag}")
    grant = _request(suite.consumers[0], dataset_id, f"review {tag}")
    with service.sessions() as session:
        with pytest.raises(NotFound):
            review.approve(session, service.ledger, department, "0x" + "42" * 32)
        with pytest.raises(InvalidInput, match="reason"):
            review.reject(session, service.ledger, department, grant, reason=" ")
        with pytest.raises(InvalidInput, match="grant_id"):
            review.approve(session, service.ledger, department, "0x1234")
        with pytest.raises(NotPermitted, match="co-approve"):
            review.co_approve(session, service.ledger, department, grant)
        # Decided with the purpose in view: not before this node has indexed the request's text.
        with pytest.raises(Conflict, match="purpose .* is not in this node's index"):
            review.approve(session, service.ledger, department, grant, reason="fine", price_per_use=2)
    service.indexer.catch_up()
    with service.sessions() as session:
        review.approve(session, service.ledger, department, grant, reason="fine", price_per_use=2)
        session.commit()
    service.settle()
    assert service.ledger.grants.grant(bytes.fromhex(grant[2:])).status is GrantStatus.ACTIVE
    with service.sessions() as session:
        with pytest.raises(Conflict, match="is active, not pending"):
            review.approve(session, service.ledger, department, grant)
        # Another department's dataset: health-commission's node key is not ours to use here.
        with pytest.raises(NotPermitted, match="another department"):
            review.approve(session, service.ledger, "health-commission", grant)

    with service.store.open(_deliver(service, grant, suite.consumers[0])) as kept:  # kept encrypted
        delivered = list(csv.reader(io.StringIO(plain_masks(kept.read().decode()))))
    assert delivered == [["name", "phone", "visits"], ["L* L**", "138****8000", "3"], ["H** M*****", "139****9000", "5"]]
    with service.sessions() as session:
        review.freeze(session, service.ledger, department, dataset_id, reason="a breach is being investigated")
        session.commit()
    service.settle()
    with pytest.raises(DeliveryRefused) as frozen:
        _deliver(service, grant, suite.consumers[0])
    assert frozen.value.refusal == "DATASET_FROZEN"
    with service.sessions() as session:
        with pytest.raises(Conflict, match="frozen already"):
            review.freeze(session, service.ledger, department, dataset_id, reason="again")
        review.freeze(session, service.ledger, department, dataset_id, reason="cleared", frozen=False)
        review.revoke(session, service.ledger, department, grant, reason="purpose fulfilled")
        session.commit()
    service.settle()
    with pytest.raises(DeliveryRefused) as revoked:
        _deliver(service, grant, suite.consumers[0])
    assert revoked.value.refusal == "REVOKED"
    service.settle()
    with service.sessions() as session:
        stored = session.get(Dataset, dataset_id)
        assert stored is not None and stored.frozen is False
        assert session.get(Note, review.note(session, "purpose fulfilled")) is not None


def test_the_usage_stream_follows_the_index(service: NodeService, suite: Suite, tmp_path: Path,
                                            database_url: str) -> None:
    tag = database_url.split(":", 1)[0]
    dataset_id = _dataset(service, tmp_path, f"stream-{tag}")
    grant = _request(suite.consumers[0], dataset_id, f"stream {tag}")
    service.indexer.catch_up()
    with service.sessions() as session:
        review.approve(session, service.ledger, service.settings.department_id, grant)
        session.commit()
    service.settle()

    async def first(count: int) -> list[UsageEvent]:
        events: list[UsageEvent] = []
        async for event in usage_stream(service.sessions, after=0, dataset_id=dataset_id, poll=0.05):
            events.append(event)
            if len(events) == count:
                return events
        raise AssertionError("the stream ended")

    for _ in range(2):
        _deliver(service, grant, suite.consumers[0])
    service.settle()
    events = asyncio.run(asyncio.wait_for(first(2), timeout=30))
    assert [e.sequence for e in events] == [1, 2] and {e.action for e in events} == {"download"}
    assert {e.consumer for e in events} == {suite.consumers[0].sender.address}  # type: ignore[union-attr]
    assert all(e.refused is None and e.grant_id == grant for e in events)
