"""What a hostile member, viewer or consumer tries on the consortium's governance through the
API: every refusal comes before anything is queued, names its rule, and leaves the chain as it
was. Proposals opened here are never executed, so the session's deployment keeps its members."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from web3 import Web3

from api.staff import create_staff
from ledger.deploy import department_id
from node.models import OutboxEntry
from tests.adversarial.conftest import COORDINATOR_NODE, HOSTILE, OWNER, World
from tests.api.clients import bearer, siwe_token, staff_token
from tests.utils.governance import Staff, governed, Governance

ID_NUMBER = "11010519491231002X"
"""The national standard's example ID number (GB 11643)."""


@pytest.fixture()
def gov(world: World) -> Iterator[Governance]:
    with governed(world.deployment) as governance:
        yield governance


def queued(world: World, code: str) -> int:
    with world.deployment.node(code).sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)


def refused(response: httpx.Response, status: int, says: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert says in error["message"], error
    return error


def admission(world: World, **changes: str) -> dict[str, str]:
    return {"kind": "admission", "code": "port-authority", "name": "港务局",
            "validator": world.fresh_account().address, "service_account": world.fresh_account().address, **changes}


def test_a_consumer_or_a_viewer_can_neither_propose_nor_vote_and_nothing_is_queued(world: World, gov: Governance) -> None:
    node = world.deployment.node(OWNER)
    with node.sessions() as session:
        create_staff(session, "viewer.governance", "viewer governance password", "viewer")
        session.commit()
    http = gov.staff[OWNER].http
    viewer = staff_token(http, "viewer.governance", "viewer governance password")
    consumer = siwe_token(http, world.honest_consumer, http.base_url.netloc.decode(), world.w3.eth.chain_id)
    before = queued(world, OWNER)
    for token in (viewer, consumer):
        refused(http.post("/consortium/proposals", json=admission(world), headers=bearer(token)), 403, "")
        refused(http.post(f"/consortium/proposals/0x{'12' * 32}/vote", json={}, headers=bearer(token)), 403, "")
        refused(http.post("/consortium/pause", json={"reason": "r"}, headers=bearer(token)), 403, "")
    # Both still read the consortium.
    assert http.get("/consortium", headers=bearer(viewer)).status_code == 200
    assert http.get("/consortium", headers=bearer(consumer)).status_code == 200
    assert queued(world, OWNER) == before


def test_a_department_that_is_not_the_coordinator_cannot_pause_appoint_or_close_founding(
        world: World, gov: Governance) -> None:
    hostile = gov.staff[HOSTILE]
    before = queued(world, HOSTILE)
    refused(hostile.post("/consortium/pause", {"reason": "a hostile pause"}), 403, "not the consortium's coordinator")
    refused(hostile.post("/consortium/auditors", {"address": world.fresh_account().address}), 403, "coordinator")
    refused(hostile.post("/consortium/close-founding"), 403, "coordinator")
    assert queued(world, HOSTILE) == before
    assert not world.ledger(world.coordinator).consortium.paused()


def test_voting_twice_or_executing_without_a_majority_is_refused_with_its_rule(world: World, gov: Governance) -> None:
    proposer = gov.staff[HOSTILE]
    proposal = proposer.accepted("/consortium/proposals", {"kind": "removal", "code": OWNER})["proposal"]
    proposer.accepted(f"/consortium/proposals/{proposal}/vote")
    before = queued(world, HOSTILE)
    refused(proposer.post(f"/consortium/proposals/{proposal}/vote"), 409, "voted on it already")
    refused(proposer.post(f"/consortium/proposals/{proposal}/execute"), 409, "no majority: 1 of the members")
    refused(proposer.post(f"/consortium/proposals/0x{'77' * 32}/vote"), 404, "no proposal")
    assert queued(world, HOSTILE) == before
    assert department_id(OWNER) in world.ledger(world.coordinator).consortium.members()


def test_a_member_squatting_the_key_another_node_will_use_gets_a_proposal_of_its_own(world: World,
                                                                                     gov: Governance) -> None:
    honest = gov.staff[OWNER]
    node = world.deployment.node(OWNER)
    with node.sessions() as session:
        used = session.scalar(select(func.count()).select_from(OutboxEntry)
                              .where(OutboxEntry.kind == "propose_admission")) or 0
    code = f"squat-{used}-{world.fresh_account().address[2:8].lower()}"
    key = bytes(Web3.keccak(text=f"propose_admission:{code}:{used}"))
    # The hostile member proposes first under the honest node's next key, with terms of its own.
    hostile = world.ledger(world.department_account(HOSTILE))
    hostile.consortium.propose_admission(key, department_id(code), "Squatter", world.fresh_account().address,
                                         world.fresh_account().address)
    validator = world.fresh_account().address
    written = honest.accepted("/consortium/proposals", admission(world, code=code, name="真的", validator=validator))
    chain = world.ledger(world.coordinator).consortium
    mine = chain.proposal(bytes.fromhex(written["proposal"][2:]))
    assert (mine.proposer, mine.name, mine.validator) == (node.sender.address, "真的", validator)
    squatted = chain.proposal_id_of(hostile.sender.address, key) if hostile.sender else b""
    assert squatted != bytes.fromhex(written["proposal"][2:]) and chain.proposal(squatted).name == "Squatter"


def test_a_sponsor_cannot_remove_another_departments_consumer(world: World, gov: Governance) -> None:
    sponsored_elsewhere = next(c for c in world.deployment.consumers if c.sponsor not in (HOSTILE, COORDINATOR_NODE))
    before = queued(world, HOSTILE)
    refused(gov.staff[HOSTILE].post(f"/consortium/consumers/{sponsored_elsewhere.address}/remove",
                                    {"reason": "a rival's consumer"}), 403, "only its sponsor or the coordinator")
    assert queued(world, HOSTILE) == before
    assert any(world.ledger(world.coordinator).consortium.sponsor_of(sponsored_elsewhere.address))


def test_a_consumer_profile_holding_an_id_number_is_refused_and_nothing_goes_on_chain(world: World,
                                                                                      gov: Governance) -> None:
    staff = gov.staff[OWNER]
    before = queued(world, OWNER)
    error = refused(staff.post("/consortium/consumers", {
        "address": world.fresh_account().address, "organisation": "研究所",
        "contact": f"张三 {ID_NUMBER}", "purpose": "research"}), 422, "no personal data")
    assert error["field"] == "contact"
    assert queued(world, OWNER) == before


def test_proposing_a_department_whose_validator_or_service_account_is_in_use_is_refused(
        world: World, gov: Governance) -> None:
    staff: Staff = gov.staff[OWNER]
    chain = world.ledger(world.coordinator).consortium
    validator = chain.department(department_id(HOSTILE)).validator
    before = queued(world, OWNER)
    refused(staff.post("/consortium/proposals", admission(world, validator=validator)), 409,
            f"it is the validator of {HOSTILE} already")
    refused(staff.post("/consortium/proposals", admission(world, service_account=world.honest_consumer.address)),
            409, "it is a consumer already")
    refused(staff.post("/consortium/proposals", admission(world, service_account=world.department_account(
        HOSTILE).address)), 409, f"a service account of {HOSTILE} already")
    refused(staff.post("/consortium/proposals", admission(world, code=HOSTILE)), 409, "a member already")
    assert queued(world, OWNER) == before


def test_without_a_session_the_relay_takes_only_an_accepted_offer(world: World, gov: Governance) -> None:
    account = world.fresh_account()
    ledger = world.ledger(account)
    w3 = world.w3

    def signed(call: Any) -> str:
        tx = call.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address),
                                     "chainId": w3.eth.chain_id, "gas": 300_000, "gasPrice": w3.eth.gas_price})
        return Web3.to_hex(account.sign_transaction(tx).raw_transaction)

    http = gov.staff[OWNER].http
    unoffered = signed(ledger.consortium.contract.functions.acceptServiceAccount(department_id(HOSTILE)))
    refused(http.post("/relay", json={"raw_transaction": unoffered}), 403, "has offered it none")
    withdraw = signed(ledger.grants.contract.functions.withdraw(b"\x01" * 32))
    refused(http.post("/relay", json={"raw_transaction": withdraw}), 403, "not call a contract open")
    assert w3.eth.get_transaction_count(account.address) == 0
