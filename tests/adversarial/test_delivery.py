"""Attacks 3-7 and 11 of issue 13: getting data the chain does not allow, or more of it.

Every check that guards data runs against the chain before the data leaves the owner's node;
each test asserts the refusal and that what was honestly served is on chain, within quota.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.cli import Refused
from node.access.delivery.fingerprint import plain_masks
from ledger.clients import Action, GrantStatus, Use
from ledger.errors import ContractError
from tests.adversarial.conftest import COORDINATOR_NODE, FIELDS, OWNER, World, people, wait_for


def _refused(call: object, status: int, code: str | None = None) -> Refused:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status_code == status, caught.value
    if code is not None:
        assert caught.value.code == code, caught.value
    return caught.value


def _rows(api: object, delivery: dict[str, object]) -> list[list[str]]:
    out = io.BytesIO()
    api.download(delivery["download"], out, total=None, desc="")  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(plain_masks(out.getvalue().decode()))))  # mask glyphs as one


def test_concurrent_requests_cannot_spend_more_than_the_quota(world: World) -> None:
    dataset = world.publish(people(3))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=2)
    api.call("POST", f"/grants/{grant}/deliveries", json={})  # one use left

    def ask(_: int) -> int:
        try:
            api.call("POST", f"/grants/{grant}/deliveries", json={})
            return 201
        except Refused as err:
            return err.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert answers.count(201) == 1 and answers.count(403) == 9, answers
    wait_for("both uses on chain", lambda: world.uses_on_chain(grant) == 2 or None)
    assert world.uses_on_chain(grant) == 2


def test_an_older_version_with_another_column_order_is_masked_by_name(world: World) -> None:
    order_v1 = ("id_number", "visits", "name", "phone")
    dataset = world.publish(people(5, order=order_v1))
    world.add_version(dataset, people(5))
    api, grant = world.granted(world.hostile_consumer, dataset, fields=["visits"], uses=3)
    for version in (1, 2, None):
        rows = _rows(api, api.call("POST", f"/grants/{grant}/deliveries", json={"version": version}))
        header, first = rows[0], dict(zip(rows[0], rows[1]))
        assert header == list(order_v1 if version == 1 else FIELDS)
        assert "*" in first["id_number"] and "*" in first["phone"] and "*" in first["name"], first
        assert first["visits"] == "0"


def test_no_delivery_leaves_while_the_ledger_is_paused(world: World) -> None:
    dataset = world.publish(people(3))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=3)
    coordinator = world.ledger(world.coordinator)
    coordinator.consortium.pause()
    try:
        for _ in range(4):
            _refused(lambda: api.call("POST", f"/grants/{grant}/deliveries", json={}), 503, "ledger_paused")
    finally:
        coordinator.consortium.unpause()
    served = [api.call("POST", f"/grants/{grant}/deliveries", json={}) for _ in range(3)]
    _refused(lambda: api.call("POST", f"/grants/{grant}/deliveries", json={}), 403, "grant_refused")
    wait_for("the three uses on chain", lambda: world.uses_on_chain(grant) == 3 or None)
    assert len(served) == 3 and world.uses_on_chain(grant) == 3


def test_a_use_refused_because_the_ledger_paused_is_sent_again(world: World) -> None:
    dataset = world.publish(people(3))
    api, grant = world.granted(world.honest_consumer, dataset, uses=3)
    coordinator = world.ledger(world.coordinator, outbid=True)
    node = world.deployment.department(OWNER).address
    with world.blocks_held():
        api.call("POST", f"/grants/{grant}/deliveries", json={})
        wait_for("the node's batch in the pool", lambda: world.pending_from(node) > 0 or None)
        # The pause lands in the same block, ahead of the node's write (the coordinator outbids it).
        coordinator.consortium._submit("pause", b"\x00" * 32, gas=200_000)
    try:
        assert coordinator.consortium.paused() and world.uses_on_chain(grant) == 0
        refused = world.w3.eth.get_block("latest", full_transactions=True)["transactions"]
        assert [tx["from"] for tx in refused] == [world.coordinator.address, node]
    finally:
        coordinator.consortium.unpause()
    wait_for("the use on chain after the pause", lambda: world.uses_on_chain(grant) == 1 or None)


def test_the_owner_cannot_lift_the_coordinators_freeze(world: World) -> None:
    dataset = world.publish(people(3))
    chain = world.ledger(world.coordinator)
    coordinator = world.staff(COORDINATOR_NODE)
    coordinator.call("POST", f"/datasets/{dataset}/freeze", json={"reason": "suspected leak", "frozen": True})
    wait_for("the freeze on chain", lambda: chain.registry.dataset(bytes.fromhex(dataset[2:])).frozen or None)
    owner = world.staff(OWNER)
    _refused(lambda: owner.call("POST", f"/datasets/{dataset}/freeze", json={"reason": "mine", "frozen": False}), 403)
    with pytest.raises(ContractError) as direct:
        world.ledger(world.department_account(OWNER)).registry.unfreeze(bytes.fromhex(dataset[2:]))
    assert direct.value.name == "RegistryFrozenByCoordinator"
    assert chain.registry.dataset(bytes.fromhex(dataset[2:])).frozen
    coordinator.call("POST", f"/datasets/{dataset}/freeze", json={"reason": "cleared", "frozen": False})
    wait_for("the freeze lifted", lambda: not chain.registry.dataset(bytes.fromhex(dataset[2:])).frozen or None)


def test_a_removed_consumer_keeps_no_access(world: World) -> None:
    consumer = world.fresh_account()
    sponsor = world.ledger(world.department_account(OWNER))
    sponsor.consortium.register_consumer(consumer.address)
    dataset = world.publish(people(3))
    api, grant = world.granted(consumer, dataset, uses=5)
    made = api.call("POST", f"/grants/{grant}/deliveries", json={})
    wait_for("the first use on chain", lambda: world.uses_on_chain(grant) == 1 or None)

    sponsor.consortium.remove_consumer(consumer.address)
    # Its session may already be refused; whichever answers, no data leaves.
    for call in (lambda: api.call("POST", f"/grants/{grant}/deliveries", json={}),
                 lambda: api.download(made["download"], io.BytesIO(), total=None, desc="")):
        with pytest.raises(Refused) as caught:
            call()
        assert caught.value.status_code in (401, 403), caught.value
    own = world.ledger(consumer)
    with pytest.raises(ContractError) as direct:
        own.usage.record_use(b"\x05" * 32, Use(bytes.fromhex(grant[2:]), Action.ANALYSE, b"\x06" * 32))
    # Refused as removed, or as revoked once the owner's node has lapsed the grant.
    assert direct.value.name in ("UsageGranteeRemoved", "UsageGrantRevoked")
    chain = world.ledger(world.coordinator)
    wait_for("the grant ended on chain", lambda: (
        chain.grants.grant(bytes.fromhex(grant[2:])).status is GrantStatus.REVOKED) or None)
    assert world.uses_on_chain(grant) == 1


def test_a_tampered_source_is_never_served(world: World) -> None:
    dataset = world.publish(people(4))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    api.call("POST", f"/grants/{grant}/deliveries", json={})
    source = _source_of(world, dataset)
    original = source.read_bytes()
    # Kept encrypted (node.store): one byte changed on disk, where a name's ciphertext lies.
    source.write_bytes(original[:-20] + bytes([original[-20] ^ 1]) + original[-19:])
    try:
        _refused(lambda: api.call("POST", f"/grants/{grant}/deliveries", json={}), 409, "source_tampered")
    finally:
        source.write_bytes(original)
    api.call("POST", f"/grants/{grant}/deliveries", json={})
    wait_for("both honest uses on chain", lambda: world.uses_on_chain(grant) == 2 or None)


def _source_of(world: World, dataset_id: str, owner: str = OWNER) -> Path:
    """Where the owner's node keeps the latest version: what its operator (or an intruder) can edit."""
    return Path(_node_row(world, owner, "select source_path from dataset_versions where dataset_id = :d "
                                        "order by number desc", d=dataset_id))


def _node_row(world: World, owner: str, query: str, **params: str) -> str:
    """The first value ``query`` finds in ``owner``'s node database, read as an intruder would."""
    engine = create_engine(f"sqlite:///{world.deployment.department(owner).data_dir / 'node.db'}")
    try:
        with engine.connect() as db:
            return str(db.execute(text(query), params).scalars().first())
    finally:
        engine.dispose()


def test_a_delivery_made_before_a_revocation_cannot_be_downloaded_after_it(world: World) -> None:
    dataset = world.publish(people(3))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    made = api.call("POST", f"/grants/{grant}/deliveries", json={})
    world.staff(OWNER).call("POST", f"/grants/{grant}/revoke", json={"reason": "purpose exceeded"})
    world.wait_status(grant, ("revoked",))
    _refused(lambda: api.download(made["download"], io.BytesIO(), total=None, desc=""), 403, "grant_refused")


def test_every_delivery_has_its_own_evidence_hash(world: World) -> None:
    dataset = world.publish(people(2))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=60)
    evidence = {api.call("POST", f"/grants/{grant}/deliveries", json={})["evidence_hash"] for _ in range(60)}
    assert len(evidence) == 60
    wait_for("all 60 uses on chain", lambda: world.uses_on_chain(grant) == 60 or None, timeout=120)


def test_the_coordinator_does_not_co_approve_grants_on_its_own_departments_data(world: World) -> None:
    dataset = world.publish(people(3), grade=3, owner=COORDINATOR_NODE)
    api, grant = world.granted(world.honest_consumer, dataset, uses=2, owner=COORDINATOR_NODE)
    assert world.wait_status(grant, ("awaiting_co_approval",)) == "awaiting_co_approval"
    bureau = world.staff(COORDINATOR_NODE)
    assert all(q["grant_id"] != grant for q in bureau.call("GET", "/review/queue"))
    _refused(lambda: bureau.call("POST", f"/grants/{grant}/co-approve", json={"reason": "mine"}), 403)
    with pytest.raises(ContractError) as direct:
        world.ledger(world.department_account(COORDINATOR_NODE)).grants.co_approve(bytes.fromhex(grant[2:]))
    assert direct.value.name == "GrantsCoordinatorIsOwner"
    # Another coordinator (the deployer's account) co-approves it, and the consumer is served.
    world.ledger(world.coordinator).grants.co_approve(bytes.fromhex(grant[2:]))
    api.call("POST", f"/grants/{grant}/deliveries", json={})
    wait_for("the use on chain", lambda: world.uses_on_chain(grant) == 1 or None)
