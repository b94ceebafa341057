"""The consortium's governance through the API of each department's node, on a deployment of
its own (three departments, the first the coordinator): admission and removal by a majority
vote, sponsored consumers with a profile, service accounts that accept through /relay, the
pause with its reason, and auditors appointed and removed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from web3 import Web3

from api.local import LocalDeployment
from ledger.deploy import department_id
from node.chain import texts
from node.models import OutboxEntry
from tests.api.clients import bearer
from tests.utils.governance import WITHIN, Governance, governed
from ledger.waiting import wait_for

NEW_CODE, NEW_NAME = "market-regulation", "市场监管局"


@pytest.fixture(scope="module")
def gov() -> Iterator[Governance]:
    with LocalDeployment(departments=3, anchor_interval=0.5) as deployment, governed(deployment) as governance:
        yield governance


def proposal_in(state: dict[str, Any], proposal: str) -> dict[str, Any] | None:
    return next((p for p in state["proposals"] if p["id"] == proposal), None)


def member(state: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((m for m in state["members"] if m["code"] == code), None)


def test_a_department_is_voted_in_by_a_majority_through_each_members_node_and_voted_out_again(gov: Governance) -> None:
    first, second, third = (gov.staff[c] for c in gov.codes)
    validator, service = gov.fresh_account(), gov.fresh_account()
    proposed = first.accepted("/consortium/proposals", {
        "kind": "admission", "code": NEW_CODE, "name": NEW_NAME, "validator": validator.address,
        "service_account": service.address})
    proposal = proposed["proposal"]
    opened = second.eventually(lambda s: proposal_in(s, proposal), "the proposal on another member's node")
    assert opened["kind"] == "admission" and opened["status"] == "open"
    assert (opened["yes"], opened["quorum"], opened["voters"], opened["you_voted"]) == (0, 2, [], False)
    assert opened["department"] == {"code": NEW_CODE, "name": NEW_NAME}  # not a member yet: the name proposed on chain
    assert opened["proposer"]["code"] == first.code and opened["proposer"]["name"] != first.code
    assert (opened["validator"], opened["service_account"]) == (validator.address, service.address)

    for voter in (first, second):
        voter.accepted(f"/consortium/proposals/{proposal}/vote")
    # The tally is the chain's; the voters, the index's, which follows it.
    passed = third.eventually(lambda s: (p := proposal_in(s, proposal)) and p["status"] == "passed"
                              and len(p["voters"]) == 2 and p, "the proposal passed, with its voters")
    assert [v["code"] for v in passed["voters"]] == [first.code, second.code] and not passed["you_voted"]
    third.accepted(f"/consortium/proposals/{proposal}/execute")

    admitted = third.eventually(lambda s: member(s, NEW_CODE), "the new member")
    assert admitted["name"] == NEW_NAME and admitted["validator"] == validator.address
    assert admitted["service_accounts"] == [service.address]
    assert admitted["signer"] is None  # anvil runs no Clique
    departments = third.get("/departments").json()
    assert {"code": NEW_CODE, "name": NEW_NAME} in [{"code": d["code"], "name": d["name"]} for d in departments]

    removal = second.accepted("/consortium/proposals", {"kind": "removal", "code": NEW_CODE})["proposal"]
    opened = first.eventually(lambda s: proposal_in(s, removal), "the removal on the first node")
    assert (opened["kind"], opened["quorum"], opened["validator"]) == ("removal", 3, None)
    assert opened["department"] == {"code": NEW_CODE, "name": NEW_NAME}
    for voter in (first, second, third):
        voter.accepted(f"/consortium/proposals/{removal}/vote")
    first.accepted(f"/consortium/proposals/{removal}/execute")
    state = first.eventually(lambda s: member(s, NEW_CODE) is None and s, "the member removed")
    # Removed, and still named in the history that names it.
    admission = proposal_in(state, proposal)
    assert admission is not None and admission["status"] == "executed"
    assert admission["department"] == {"code": NEW_CODE, "name": NEW_NAME}


def test_a_sponsored_consumer_appears_with_its_profile_signs_in_and_is_removed(gov: Governance) -> None:
    sponsor = gov.others[0]
    consumer = gov.fresh_account(funded=True)
    profile = {"organisation": "东湖市场研究所", "contact": "research desk, 4th floor", "purpose": "market statistics"}
    sponsor.accepted("/consortium/consumers", {"address": consumer.address, **profile})
    shown = sponsor.eventually(
        lambda s: next((c for c in s["consumers"] if c["address"] == consumer.address), None), "the consumer")
    assert shown["sponsor"]["code"] == sponsor.code and shown["sponsor"]["name"] != sponsor.code
    assert shown["profile"] == profile
    # The profile is on chain: its hash is the registration's.
    ledger = gov.deployment.node(sponsor.code).ledger
    assert ledger.consortium.sponsor_of(consumer.address) == department_id(sponsor.code)

    with gov.client(sponsor.code) as http:
        token = gov.wallet_token(sponsor.code, http, consumer)
        assert http.get("/auth/me", headers=bearer(token)).json()["roles"] == ["consumer"]
        # It may ask for access: the relay hands it what it needs to sign a request.
        params = http.get("/relay/params", headers=bearer(token))
        assert params.status_code == 200 and params.json()["addresses"]["AccessGrants"]

        sponsor.accepted(f"/consortium/consumers/{consumer.address}/remove", {"reason": "the study has ended"})
        gone = wait_for(lambda: (r := http.get("/relay/params", headers=bearer(token))).status_code in (401, 403)
                        and r or None, timeout=WITHIN, what="the removed consumer refused", interval=0.2)
        assert gone.status_code == 401, gone.text
    assert sponsor.eventually(lambda s: all(c["address"] != consumer.address for c in s["consumers"]) and s,
                              "the consumer gone")


def test_a_service_account_offered_through_the_api_accepts_itself_through_the_relay(gov: Governance) -> None:
    department = gov.others[-1]
    account = gov.fresh_account(funded=True)
    department.accepted("/consortium/service-accounts", {"address": account.address})
    ledger = gov.deployment.node(department.code).ledger
    w3 = gov.w3
    call = ledger.consortium.contract.functions.acceptServiceAccount(department_id(department.code))
    tx = call.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address),
                                 "chainId": w3.eth.chain_id, "gas": 300_000, "gasPrice": w3.eth.gas_price})
    raw = Web3.to_hex(account.sign_transaction(tx).raw_transaction)
    # Not signed in: an account with no role yet may relay its own acceptance, and nothing else.
    sent = department.http.post("/relay", json={"raw_transaction": raw})
    assert sent.status_code == 202, sent.text
    done = wait_for(lambda: (b if (b := department.http.get(sent.json()["follow"]).json())["status"] != "pending"
                             else None), timeout=WITHIN, what="the acceptance mined", interval=0.1)
    assert done["status"] == "success" and done["function"] == "acceptServiceAccount", done
    assert account.address in department.eventually(
        lambda s: member(s, department.code), "the member")["service_accounts"]

    department.accepted(f"/consortium/service-accounts/{account.address}/remove")
    assert account.address not in department.state()["members"][gov.codes.index(department.code)]["service_accounts"]


def test_a_paused_ledger_refuses_writes_and_deliveries_with_the_reason_serves_reads_and_lands_queued_writes_on_resume(
        gov: Governance) -> None:
    coordinator, other = gov.coordinator, gov.others[0]
    node = gov.deployment.node(other.code)
    reason = "emergency key rotation drill"
    coordinator.accepted("/consortium/pause", {"reason": reason})
    # Queued at the node before the pause reached it: the outbox holds it until the resume.
    with node.sessions() as session:
        digest = texts.publish(session, "a note queued while the ledger is paused")
        session.commit()

    def refused() -> dict[str, Any] | None:
        response = other.post("/consortium/consumers", {"address": gov.fresh_account().address,
                                                        "organisation": "o", "contact": "c", "purpose": "p"})
        assert response.status_code in (202, 503), response.text
        return response.json()["error"] if response.status_code == 503 and \
            response.json()["error"]["reason"] == reason else None
    error = wait_for(refused, timeout=WITHIN, what="the paused ledger refusing writes with the reason", interval=0.2)
    assert error["code"] == "ledger_paused" and reason in error["message"]
    consumer = gov.deployment.consumers[0]
    with gov.client(consumer.sponsor or gov.codes[0]) as http:
        token = gov.wallet_token("", http, consumer.account)
        # Refused before the grant is even looked up (a node that found the ledger running reads
        # it again after a second).
        delivery = wait_for(lambda: (r := http.post(f"/grants/0x{'ab' * 32}/deliveries", json={},
                                                    headers=bearer(token))).status_code == 503 and r or None,
                            timeout=10, what="the delivery refused", interval=0.2)
    assert delivery.status_code == 503 and delivery.json()["error"]["code"] == "ledger_paused", delivery.text
    assert delivery.json()["error"]["reason"] == reason
    state = other.state()
    assert state["paused"] is True and state["pause_reason"] == reason
    assert other.get("/datasets").status_code == 200
    with node.sessions() as session:
        queued = session.scalar(select(OutboxEntry).where(OutboxEntry.key == f"text:{digest}"))
        assert queued is not None and queued.status in ("pending", "signed")

    resumed = coordinator.accepted("/consortium/resume", {"reason": "drill over"})
    assert resumed["kind"] == "unpause"

    def landed() -> bool:
        with node.sessions() as session:
            entry = session.scalar(select(OutboxEntry).where(OutboxEntry.key == f"text:{digest}"))
            return entry is not None and entry.status == "confirmed"
    wait_for(lambda: landed() or None, timeout=WITHIN, what="the queued write landing", interval=0.1)
    assert other.eventually(lambda s: not s["paused"] and s, "the resume")["pause_reason"] is None
    # Taken again at once: a node that found the ledger paused reads it again on every write.
    other.accepted("/consortium/consumers", {"address": gov.fresh_account().address, "organisation": "统计学会",
                                             "contact": "secretariat", "purpose": "annual yearbook"})


def test_an_auditor_appointed_through_the_api_is_refused_within_seconds_once_removed(gov: Governance) -> None:
    coordinator = gov.coordinator
    auditor = gov.fresh_account()
    coordinator.accepted("/consortium/auditors", {"address": auditor.address})
    assert auditor.address in coordinator.eventually(lambda s: auditor.address in s["auditors"] and s,
                                                     "the auditor listed")["auditors"]
    code = gov.others[0].code
    with gov.client(code) as http:
        token = gov.wallet_token(code, http, auditor)
        assert http.get("/audit/alerts", headers=bearer(token)).status_code == 200
        coordinator.accepted(f"/consortium/auditors/{auditor.address}/remove")
        refused = wait_for(lambda: (r := http.get("/audit/alerts", headers=bearer(token))).status_code != 200
                           and r or None, timeout=10, what="the removed auditor refused", interval=0.2)
    assert refused.status_code == 401 and "no longer holds the auditor role" in refused.json()["error"]["message"]
    assert auditor.address not in coordinator.eventually(lambda s: auditor.address not in s["auditors"] and s,
                                                         "the auditor gone")["auditors"]
