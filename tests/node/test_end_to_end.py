"""The node's whole story on a real chain, SQLite and PostgreSQL alike:

register -> request -> owner approves, coordinator co-approves (grade 3) -> a masked delivery
encrypted to the consumer, who decrypts it -> uses recorded -> a use over quota refused on-chain
-> alerts -> a quality issue returned and repaired -> a settlement acknowledged by both sides ->
the trace exported as PROV, every item verified -> a leaked copy attributed to its consumer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from prov.model import ProvDocument
from sqlalchemy import select, update

from api.demo import FIELDS, id_number, people, write_csv
from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, GrantStatus, IssueStatus
from ledger.deploy import Ledger, department_id
from ledger.tx import write_keystore
from node.access import review
from node.access.queue import review_queue
from node.quality import issues
from node.quality import loop as quality
from node.access.delivery.crypto import decrypt_stream, public_key_of
from node.access.delivery.fingerprint import plain_masks
from node.access.delivery.serve import Request, attribute_leak, deliver
from node.errors import DeliveryRefused, NotPermitted, StatementRefused
from node.audit.prov import trace_prov_json
from node.models import Alert, AlertRule, ChainEventRow, Dataset
from node.catalog.register import register_dataset, register_version
from node.service import NodeService
from node.settings import NodeSettings
from node.access.settlement import acknowledge_as_consumer, build_statement
from node.audit.trace import consumer_trace, dataset_trace, lineage, whole
from node.audit.verify import verify_events
from tests.utils.ledgers import DEPARTMENTS, Suite, head_time, next_second

PASSPHRASE = "end to end passphrase"
CLASSES = {"name": "name", "id_number": "id_number", "phone": "mobile", "address": "address"}


def start_node(chain: LocalChain, suite: Suite, index: int, tmp: Path, database_url: str) -> NodeService:
    department = suite.departments[index]
    assert department.sender is not None
    home = tmp / DEPARTMENTS[index]
    url = database_url if index == 1 else f"sqlite:///{home}/node.db"
    settings = NodeSettings(
        department_id=DEPARTMENTS[index], chain_url=chain.url, manifest_path=department.manifest.save(tmp / "deployment.json"),
        keystore_path=write_keystore(department.sender.account, home / "key.json", PASSPHRASE),
        passphrase=PASSPHRASE, data_dir=home / "data", database_url=url, confirmations=1,  # type: ignore[arg-type]
    )
    return NodeService.start(settings)


def request(consumer: Ledger, dataset_id: str, tag: str, *, max_uses: int, duration: int = 3600) -> str:
    grant = hashlib.sha256(f"grant {tag} {dataset_id}".encode()).digest()
    consumer.grants.request_access(grant, dataset_id=bytes.fromhex(dataset_id[2:]),
                                   purpose=f"purpose {tag}",
                                   schema_hash=b"\x00" * 32, fields=["visits"], actions=Action.mask(Action.DOWNLOAD),
                                   duration=duration, max_uses=max_uses)
    assert consumer.sender is not None
    return "0x" + ids.grant_id(consumer.sender.address, grant).hex()


@pytest.fixture()
def nodes(chain: LocalChain, suite: Suite, tmp_path: Path, database_url: str) -> Iterator[tuple[NodeService, NodeService]]:
    """The health commission's node (the owner) and the statistics bureau's (also coordinator)."""
    bureau = suite.departments[0]
    assert bureau.sender is not None
    suite.coordinator.consortium.appoint_coordinator(bureau.sender.address)
    owner, coordinator = (start_node(chain, suite, i, tmp_path, database_url) for i in (1, 0))
    yield owner, coordinator
    owner.close()
    coordinator.close()


def test_the_whole_story(nodes: tuple[NodeService, NodeService], suite: Suite, tmp_path: Path,
                         database_url: str) -> None:
    owner, coordinator = nodes
    consumer, other = suite.consumers
    accounts: list[LocalAccount] = [c.sender.account for c in suite.consumers]  # type: ignore[union-attr]
    tag = database_url.split(":", 1)[0]
    department = owner.settings.department_id
    period_start = next_second(owner.ledger.w3)  # both runs bill this consumer: their periods do not overlap

    # -- register a grade-3 dataset with field classes and quality rules
    v1_path = write_csv(tmp_path / "visits-v1.csv", people(40, broken=True))
    with owner.sessions() as session:
        dataset = register_dataset(session, department=department, code=f"visits-{tag}", name="Hospital visits",
                                   category="health", grade=3, update_interval=86400, field_classes=CLASSES,
                                   key_fields=["id_number"])
        quality.set_rules(session, dataset.dataset_id, [
            {"kind": "completeness", "fields": ["phone"]},
            {"kind": "validity", "fields": ["id_number"]},
            {"kind": "uniqueness", "fields": ["id_number"]},
        ])
        v1 = register_version(session, dataset_id=dataset.dataset_id, path=v1_path)
        session.commit()
    owner.settle()
    dataset_id = dataset.dataset_id

    # -- requests: the owner's queue, then the coordinator's on grade 3
    grant = request(consumer, dataset_id, f"{tag} a", max_uses=3)
    other_grant = request(other, dataset_id, f"{tag} b", max_uses=5)
    short_grant = request(other, dataset_id, f"{tag} c", max_uses=5, duration=1)
    owner.indexer.catch_up()
    with owner.sessions() as session:
        queue = review_queue(session, owner.ledger, department)
        assert {(q.grant_id, q.waiting_for) for q in queue} == {(g, "owner") for g in (grant, other_grant, short_grant)}
        with pytest.raises(NotPermitted):
            review.co_approve(session, owner.ledger, department, grant)
        for g in (grant, other_grant, short_grant):
            review.approve(session, owner.ledger, department, g, reason="public health study", price_per_use=5)
        session.commit()
    owner.settle()
    coordinator.indexer.catch_up()
    with coordinator.sessions() as session:
        assert review_queue(session, coordinator.ledger, coordinator.settings.department_id) == []
        waiting = review_queue(session, coordinator.ledger, coordinator.settings.department_id, coordinator=True)
        assert {q.grant_id for q in waiting} == {grant, other_grant, short_grant}
        assert {q.waiting_for for q in waiting} == {"coordinator"} and {q.grade for q in waiting} == {3}
        assert {q.purpose for q in waiting} == {f"purpose {tag} {x}" for x in "abc"}
        assert {q.owner_decision.reason for q in waiting if q.owner_decision} == {"public health study"}
        for g in (grant, other_grant, short_grant):
            review.co_approve(session, coordinator.ledger, coordinator.settings.department_id, g)
        session.commit()
    coordinator.settle()
    assert owner.ledger.grants.grant(bytes.fromhex(grant[2:])).status is GrantStatus.ACTIVE

    # -- deliveries: masked outside the grant, fingerprinted, encrypted to the consumer
    def serve(grant_id: str, who: LocalAccount, *, encrypt: bool) -> Path:
        key = public_key_of(bytes(who.key)) if encrypt else None
        with owner.sessions() as session:
            row = deliver(session, owner.ledger, department=department, key=owner.fingerprint_key,
                          out_dir=owner.deliveries_dir, request=Request(grant_id, who.address, encrypt_to=key))
        return Path(row.path)

    with owner.sessions() as session:
        session.execute(update(AlertRule).where(AlertRule.kind == "burst").values(threshold=2, window_seconds=3600))
        session.commit()
    sealed = serve(grant, accounts[0], encrypt=True)
    opened = io.BytesIO()
    with open(sealed, "rb") as f:
        decrypt_stream(f, opened, bytes(accounts[0].key))
    first = list(csv.reader(io.StringIO(plain_masks(opened.getvalue().decode()))))
    assert first[0] == list(FIELDS) and len(first) == 41
    assert first[1][1] == id_number(0)[:6] + "********" + id_number(0)[-4:]
    assert first[1][2] == "138****0000" and first[1][0] == "P***** *" and first[1][4] == "0"
    leaked_copy = opened.getvalue()
    serve(grant, accounts[0], encrypt=False)
    serve(grant, accounts[0], encrypt=False)
    other_copy = serve(other_grant, accounts[1], encrypt=False).read_bytes()
    assert other_copy != leaked_copy
    assert plain_masks(other_copy.decode()).replace('"', "") == plain_masks(leaked_copy.decode()).replace('"', "")
    with pytest.raises(NotPermitted):
        serve(grant, accounts[1], encrypt=False)

    # -- over quota: refused here, and the attempt refused and logged on-chain
    with pytest.raises(DeliveryRefused) as over:
        serve(grant, accounts[0], encrypt=False)
    assert over.value.refusal == "QUOTA_EXHAUSTED"
    time.sleep(2)
    with pytest.raises(DeliveryRefused) as late:
        serve(short_grant, accounts[1], encrypt=False)
    assert late.value.refusal == "EXPIRED"
    owner.settle()
    assert owner.ledger.usage.uses_of(bytes.fromhex(grant[2:])) == 3

    # -- alerts
    owner.monitor.step(now=time.time() + 3 * 86400)
    with owner.sessions() as session:
        # The module's chain also holds the other database's run: look at this dataset's.
        alerts = {a.kind: a for a in session.scalars(select(Alert).where(Alert.dataset_id == dataset_id))}
        refusals = session.scalars(select(ChainEventRow).where(ChainEventRow.name == "UseRefused",
                                                               ChainEventRow.dataset_id == dataset_id)).all()
    assert {"quota", "refused", "expired_attempt", "burst", "stale"} <= alerts.keys()
    assert alerts["quota"].grant_id == grant and alerts["refused"].grant_id == grant
    assert alerts["expired_attempt"].grant_id == short_grant and alerts["stale"].dataset_id == dataset_id
    assert sorted((r.grant_id, r.args["reason"]) for r in refusals) == sorted([(grant, 8), (short_grant, 5)])

    # -- quality: v1 fails, an issue goes back to the source, v2 repairs it
    with owner.sessions() as session:
        report = quality.check_version(session, v1.id)
        assert not report.passed
        issue_id = quality.open_issue(session, report, ledger=owner.ledger)
        session.commit()
    owner.settle()
    issue = bytes.fromhex(issue_id[2:])
    assert owner.ledger.quality.issue(issue).status is IssueStatus.RETURNED
    with owner.sessions() as session:
        v2 = register_version(session, dataset_id=dataset_id, path=write_csv(tmp_path / "v2.csv", people(40, broken=False)))
        issues.repair(session, owner.settings.department_id, issue_id, v2.number, note="check digit and duplicate fixed")
        session.commit()
    owner.settle()
    assert owner.ledger.quality.issue(issue).status is IssueStatus.REPAIRED
    with owner.sessions() as session:
        assert quality.verify_repair(session, issue_id, v2.id).passed
        session.commit()
    owner.settle()
    closed = owner.ledger.quality.issue(issue)
    assert closed.status is IssueStatus.CLOSED and closed.repaired_version == 2

    # -- settlement: built from indexed uses, acknowledged by the owner, then by the consumer
    with owner.sessions() as session:
        statement = build_statement(session, department=department, consumer=accounts[0].address,
                                    period_start=period_start, period_end=head_time(owner.ledger.w3) + 1)
        session.commit()
    assert statement.amount == "15" and statement.body["lines"][0]["uses"] == 3
    owner.settle()
    tampered = json.loads(json.dumps(statement.body))
    tampered["lines"][0]["uses"], tampered["lines"][0]["amount"], tampered["amount"] = 2, "10", "10"
    with pytest.raises(StatementRefused, match="3 uses are recorded on-chain in the period, not 2"):
        acknowledge_as_consumer(consumer, tampered)
    assert acknowledge_as_consumer(consumer, statement.body).ok
    assert owner.ledger.usage.statement(department_id(department), bytes.fromhex(statement.statement_id[2:]))[1:] == (
        True, True)
    owner.settle()

    # -- the trace, paged, every item verified against the chain, exported as PROV
    addresses = owner.ledger.manifest.addresses
    with owner.sessions() as session:
        items = list(whole(lambda after: dataset_trace(session, addresses, dataset_id, after=after, limit=4)))
        mine = list(whole(lambda after: consumer_trace(session, addresses, accounts[0].address, after=after, limit=4)))
        assert lineage(session, dataset_id).parents == []
    names = [i.name for i in items]
    for expected in ("DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "RequestCoApproved",
                     "GrantActivated", "UseRecorded", "UseRefused", "IssueOpened", "IssueReturned", "IssueRepaired",
                     "IssueClosed"):
        assert expected in names, expected
    assert names.count("UseRecorded") == 3 + 1 and names.count("VersionAdded") == 2
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert {"StatementAcknowledged", "UseRecorded", "AccessRequested"} <= {i.name for i in mine}
    assert all(i.consumer == accounts[0].address for i in mine)
    reports = verify_events(owner.ledger, items + mine)
    assert all(r.ok for r in reports), [str(r) for r in reports if not r.ok]
    document = ProvDocument.deserialize(content=trace_prov_json(items, subject=dataset_id,
                                                                chain_id=owner.ledger.manifest.chain_id), format="json")
    assert len(list(document.get_records())) > len(items)
    with owner.sessions() as session:
        row = session.get(ChainEventRow, items[-1].id)
        assert row is not None
        row.args = {**row.args, "evidenceHash": "0x" + "ab" * 32} if "evidenceHash" in row.args else {**row.args, "by": "0x" + "00" * 20}
        session.commit()
        forged = list(whole(lambda after: dataset_trace(session, addresses, dataset_id, after=after, limit=100)))
    assert [r.ok for r in verify_events(owner.ledger, forged)].count(False) == 1

    # -- a leaked copy: whose was it?
    with owner.sessions() as session:
        half = other_copy[: len(other_copy) // 2]
        found = attribute_leak(session, io.BytesIO(half), owner.fingerprint_key, dataset_id=dataset_id)
        assert found.delivery is not None and found.attribution.confident
        assert found.delivery.consumer == accounts[1].address and found.delivery.grant_id == other_grant
        found = attribute_leak(session, io.BytesIO(leaked_copy), owner.fingerprint_key, dataset_id=dataset_id)
        assert found.delivery is not None and found.delivery.consumer == accounts[0].address
        assert found.attribution.confident
        assert session.get(Dataset, dataset_id) is not None
