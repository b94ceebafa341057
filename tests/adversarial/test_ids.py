"""Attacks 1, 2 and 8 of issue 13: occupying an id another party will use.

Ids are derived from or kept per their creator on chain, so a hostile member or consumer that
writes first only fills its own namespace; the honest write still lands, and the node counts a
write as done only when the chain holds it as its own, with its terms.
"""

from __future__ import annotations

import hashlib

import pytest

from ledger import ids
from ledger.clients import Action, AnchorKind, Dataset, Rights, Statement, Use
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from node.access.settlement import statement_id
from tests.adversarial.conftest import COORDINATOR_NODE, HOSTILE, OWNER, World, people, wait_for


def test_a_squatted_dataset_id_cannot_take_ownership(world: World) -> None:
    hostile = world.ledger(world.department_account(HOSTILE))
    code = "census-2026-squat"
    # The hostile member registers the owner's code first, as grade 1, with its own sponsored consumer in mind.
    hostile.registry.register_dataset(ids.key_of(code), metadata="{}", category=b"\x02" * 32, grade=1,
                                      update_interval=0, rights=Rights(department_id(HOSTILE)))
    squatted = ids.dataset_id(department_id(HOSTILE), ids.key_of(code))

    owner = world.staff(OWNER)
    dataset = owner.call("POST", "/datasets", json={"code": code, "name": "人口普查 2026", "category": "population",
                                                     "grade": 3, "update_interval": 86400,
                                                     "field_classes": {"id_number": "id_number"}})
    assert dataset["dataset_id"] != "0x" + squatted.hex()
    chain = world.ledger(world.coordinator)
    theirs = bytes.fromhex(dataset["dataset_id"][2:])
    registered = wait_for("the owner's registration on chain", lambda: _dataset(chain, theirs))
    assert registered.owner_department == department_id(OWNER) and registered.grade == 3
    assert chain.registry.dataset(squatted).owner_department == department_id(HOSTILE)
    # Nor can the squatter write versions of, or decide grants on, the owner's dataset.
    with pytest.raises(ContractError) as refused:
        hostile.registry.add_version(theirs, b"\x07" * 32, "{}", 1, 1)
    assert refused.value.name == "RegistryNotOwner"


def _dataset(chain: Ledger, dataset_id: bytes) -> Dataset | None:
    try:
        return chain.registry.dataset(dataset_id)
    except ContractError:
        return None


def test_a_consumer_cannot_erase_its_download_records_by_claiming_the_batch_id(world: World) -> None:
    dataset = world.publish(people(4))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    hostile = world.ledger(world.hostile_consumer, outbid=True)
    node = world.deployment.department(OWNER).address
    served = []
    for _ in range(3):
        with world.blocks_held():
            delivery = api.call("POST", f"/grants/{grant}/deliveries", json={})
            served.append(delivery)
            # The node's batch of one is keyed by the delivery id the consumer was just given:
            # the consumer sends that batch id first, outbidding the node's transaction.
            batch_id = hashlib.sha256(bytes.fromhex(delivery["delivery_id"][2:])).digest()
            wait_for("the node's batch in the pool", lambda: world.pending_from(node) > 0 or None)
            hostile.usage.submit_uses(batch_id, [Use(bytes.fromhex(grant[2:]), Action.ANALYSE, b"\x01" * 32)],
                                      gas=300_000)
    chain = world.ledger(world.coordinator)
    # The consumer's batches came first, under the node's batch ids: each is its own, not the node's.
    for delivery in served:
        batch_id = hashlib.sha256(bytes.fromhex(delivery["delivery_id"][2:])).digest()
        assert chain.usage.id_used(world.hostile_consumer.address, batch_id)
    wait_for("every download recorded on chain", lambda: world.uses_on_chain(grant) >= 3 or None)
    assert world.uses_on_chain(grant) == 3
    recorded = {log["args"]["evidenceHash"] for log in chain.usage.contract.events.UseRecorded.get_logs(
        from_block=0, argument_filters={"grantId": bytes.fromhex(grant[2:])})}
    assert {bytes.fromhex(d["evidence_hash"][2:]) for d in served} <= recorded


def test_a_root_anchored_first_by_another_department_does_not_stop_the_owners_anchor(world: World) -> None:
    hostile = world.ledger(world.department_account(HOSTILE))
    owner = world.ledger(world.department_account(COORDINATOR_NODE))
    root = hashlib.sha256(b"the owner's next batch root").digest()
    hostile.anchors.anchor(root, 99, AnchorKind.DELIVERY_RECEIPTS)
    owner.anchors.anchor(root, 3, AnchorKind.DATASET_VERSIONS)
    mine = owner.anchors.anchor_of(department_id(COORDINATOR_NODE), root)
    assert (mine.leaf_count, mine.kind) == (3, AnchorKind.DATASET_VERSIONS)
    assert owner.anchors.anchor_of(department_id(HOSTILE), root).leaf_count == 99


def test_a_statement_id_taken_by_another_department_does_not_block_the_owners_statement(world: World) -> None:
    dataset = world.publish(people(3))
    api, grant = world.granted(world.honest_consumer, dataset, uses=3)
    api.call("POST", f"/grants/{grant}/deliveries", json={})
    wait_for("the use on chain", lambda: world.uses_on_chain(grant) or None)
    consumer, end = world.honest_consumer.address, 2**40 + 1
    # Statement ids are predictable: the hostile member issues one under the owner's next id first.
    taken = statement_id(OWNER, consumer, 0, end)
    hostile = world.ledger(world.department_account(HOSTILE))
    hostile.usage.acknowledge_statement(Statement(bytes.fromhex(taken[2:]), department_id(HOSTILE), consumer, 0, end,
                                                  10**6, b"\x09" * 32))
    issued = world.staff(OWNER).call("POST", "/statements", json={"consumer": consumer, "period_start": 0,
                                                                  "period_end": end})
    assert issued["statement_id"] == taken
    chain = world.ledger(world.coordinator)
    mine = wait_for("the owner's statement on chain", lambda: (
        s if (s := chain.usage.statement(department_id(OWNER), bytes.fromhex(taken[2:])))[1] else None))
    assert "0x" + mine[0].hex() == issued["statement_hash"]
    assert chain.usage.statement(department_id(HOSTILE), bytes.fromhex(taken[2:]))[0] == b"\x09" * 32


def test_a_quality_issue_code_used_by_another_department_gives_it_its_own_issue(world: World) -> None:
    dataset = world.publish(people(3))
    chain = world.ledger(world.coordinator)
    wait_for("version 1 on chain", lambda: _dataset(chain, bytes.fromhex(dataset[2:])))
    hostile = world.ledger(world.department_account(HOSTILE))
    inspector = world.ledger(world.department_account(COORDINATOR_NODE))
    code = hashlib.sha256(b"the same code").digest()
    hostile.quality.open_issue(code, bytes.fromhex(dataset[2:]), 1, b"\x01" * 32)
    inspector.quality.open_issue(code, bytes.fromhex(dataset[2:]), 1, b"\x02" * 32)
    theirs = chain.quality.issue(ids.issue_id(world.department_account(HOSTILE).address, code))
    mine = chain.quality.issue(ids.issue_id(world.department_account(COORDINATOR_NODE).address, code))
    assert theirs.report_hash == b"\x01" * 32 and mine.report_hash == b"\x02" * 32
