"""Texts on chain, review with everything in view, and the coordinator's quality loop, across
the nodes of one deployment: the owner (health commission), the coordinator's node (statistics
bureau) and a hostile department (public security), each reading its own index of the chain.

The honest story comes first (a Chinese purpose seen by the owner's reviewer and by the
coordinator on their own nodes; an issue the coordinator opens on the owner's data, returned,
repaired and closed, with every text in the trace on another node); then the attacks: a
consumer publishing texts cannot change a request's purpose, a purpose holding an ID number
does not go on chain, and a department cannot open or close issues as the coordinator.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.cli import request_access
from api.cli.client import CliError, Refused, UsageError, signed_call
from ledger import ids
from ledger.deploy import department_id
from ledger.errors import ContractError
from node.catalog.texts import canonical_json
from tests.adversarial.conftest import COORDINATOR_NODE, FIELDS, HOSTILE, OWNER, World, people, wait_for

PURPOSE = "2026年门诊就诊统计：用于社区卫生服务规划，不对外公开"
APPROVAL = "符合《2026年卫生数据共享协议》第三条"
FINDINGS = [{"field": "id_number", "rows": [3, 7], "problem": "身份证号校验位错误"},
            {"field": "phone", "rows": [12], "problem": "手机号位数不足"}]


def _queued(api: Any, grant: str, waiting_for: str) -> dict[str, Any] | None:
    found = [q for q in api.call("GET", "/review/queue") if q["grant_id"] == grant and q["waiting_for"] == waiting_for]
    return found[0] if found else None


def _issue(api: Any, issue_id: str, status: str | None = None) -> dict[str, Any] | None:
    found = [i for i in api.call("GET", "/quality/issues") if i["issue_id"] == issue_id]
    return found[0] if found and (status is None or found[0]["status"] == status) else None


def _auditor_trace(world: World, dataset_id: str) -> dict[str, Any]:
    """The dataset's trace as the auditor reads it on the third department's node."""
    assert world.deployment.auditor is not None
    auditor = world.signed_in(world.deployment.auditor.account, HOSTILE)
    return wait_for("the third node to index it all", lambda: (
        t if (t := auditor.call("GET", f"/audit/datasets/{dataset_id}/trace", params={"limit": 1000}))["items"]
        and t["items"][-1]["name"] in ("GrantActivated", "IssueClosed") else None))


def _name(world: World, code: str) -> str:
    return world.ledger(world.coordinator).consortium.department(department_id(code)).name


# ---------------------------------------------------------------- the honest story


def test_a_chinese_purpose_is_seen_by_the_owners_reviewer_and_by_the_coordinator_on_their_own_nodes(
        world: World) -> None:
    dataset = world.publish(people(20), grade=3)
    consumer = world.honest_consumer  # sponsored by the statistics bureau
    grant = request_access(world.signed_in(consumer), consumer, dataset, purpose=PURPOSE, fields=["visits"],
                           uses=4, days=7)

    owner = world.staff(OWNER)
    mine = wait_for("the request in the owner's queue", lambda: _queued(owner, grant, "owner"))
    assert mine["purpose"] == PURPOSE
    assert mine["purpose_hash"] == "0x" + ids.text_hash(PURPOSE).hex()
    name = owner.call("GET", f"/datasets/{dataset}")["name"]
    assert (mine["dataset_name"], mine["category"], mine["grade"]) == (name, "health", 3)
    assert mine["owner_department"]["name"] == _name(world, OWNER)
    assert (mine["sponsor"]["code"], mine["sponsor"]["name"]) == (COORDINATOR_NODE, _name(world, COORDINATOR_NODE))
    assert mine["fields"] == ["visits"]
    assert mine["masked_fields"] == sorted(set(FIELDS) - {"visits"})
    assert (mine["max_uses"], mine["duration_days"], mine["owner_decision"]) == (4, 7, None)
    owner.call("POST", f"/grants/{grant}/approve", json={"reason": APPROVAL, "price_per_use": 3})
    world.wait_status(grant, ("awaiting_co_approval",))

    coordinator = world.staff(COORDINATOR_NODE)
    theirs = wait_for("the co-approval in the coordinator's queue", lambda: _queued(coordinator, grant, "coordinator"))
    assert theirs["purpose"] == PURPOSE
    # The coordinator's node holds no record of the owner's dataset: the name is its catalog
    # entry, published on chain and found by the metadata hash.
    assert theirs["dataset_name"] == mine["dataset_name"] and theirs["category"] == "health"
    assert theirs["owner_department"]["name"] == _name(world, OWNER)
    assert not theirs["owner_department"]["name"].startswith("0x")
    assert theirs["fields"] == ["visits"] and theirs["max_uses"] == 4 and theirs["duration_days"] == 7
    decision = theirs["owner_decision"]
    assert decision["department"]["code"] == OWNER and decision["reason"] == APPROVAL
    assert decision["reviewer"] == world.department_account(OWNER).address and decision["price_per_use"] == "3"
    coordinator.call("POST", f"/grants/{grant}/co-approve", json={"reason": "同意"})
    assert world.wait_status(grant, ("active",)) == "active"

    # A third node, neither owner nor coordinator, shows the same texts in the auditor's trace.
    trace = _auditor_trace(world, dataset)
    told = {item["name"]: item["texts"] for item in trace["items"] if item["grant_id"] == grant}
    assert told["AccessRequested"] == {"purposeHash": PURPOSE}
    assert told["RequestApproved"] == {"reasonHash": APPROVAL}
    assert told["RequestCoApproved"] == {"reasonHash": "同意"}


def test_the_coordinator_opens_an_issue_on_another_departments_version_the_owner_repairs_it_and_the_coordinator_closes_it(
        world: World) -> None:
    dataset = world.publish(people(20))
    coordinator, owner = world.staff(COORDINATOR_NODE), world.staff(OWNER)
    opened = coordinator.call("POST", "/quality/issues", json={
        "dataset_id": dataset, "version": 1, "findings": FINDINGS, "note": "请核实后重新报送"})
    issue_id = opened["issue_id"]

    seen = wait_for("the issue returned, on the owner's node", lambda: _issue(owner, issue_id, "returned"))
    assert seen["report"]["findings"] == FINDINGS and seen["report"]["version"] == 1
    assert seen["report_hash"] == "0x" + ids.text_hash(canonical_json(seen["report"])).hex()
    assert seen["opener_department"]["code"] == COORDINATOR_NODE and seen["source_department"]["code"] == OWNER
    assert [s["text"] for s in seen["steps"] if s["event"] == "IssueReturned"] == ["请核实后重新报送"]

    world.add_version(dataset, people(21))
    repair = owner.call("POST", f"/quality/issues/{issue_id}/repair", json={"version": 2, "note": "已更正第3、7、12行"})
    owner.wait_write(repair, "the repair")
    wait_for("the repair, on the owner's node", lambda: _issue(owner, issue_id, "repaired"))

    # The owner does not verify its own repair of the coordinator's issue: refused with a reason.
    with pytest.raises(Refused) as refused:
        owner.call("POST", f"/quality/issues/{issue_id}/close", json={"note": "fixed"})
    assert refused.value.status_code == 403 and "opened by" in str(refused.value)

    wait_for("the repair, on the coordinator's node", lambda: _issue(coordinator, issue_id, "repaired"))
    closed = coordinator.call("POST", f"/quality/issues/{issue_id}/close", json={"note": "复核通过"})
    coordinator.wait_write(closed, "the closing")
    done = wait_for("the issue closed, on the owner's node", lambda: _issue(owner, issue_id, "closed"))
    assert done["repaired_version"] == 2
    assert [(s["event"], s["text"]) for s in done["steps"] if s["event"] in ("IssueRepaired", "IssueClosed")] == [
        ("IssueRepaired", "已更正第3、7、12行"), ("IssueClosed", "复核通过")]
    trace = _auditor_trace(world, dataset)
    texts = {item["name"]: item["texts"] for item in trace["items"] if item["args"].get("issueId") == issue_id}
    assert texts["IssueClosed"] == {"reportHash": "复核通过"}
    assert '"findings"' in texts["IssueOpened"]["reportHash"]


# ---------------------------------------------------------------- attacks


def test_a_consumer_publishing_texts_cannot_change_a_requests_purpose(world: World) -> None:
    dataset = world.publish(people(10))
    consumer, hostile = world.honest_consumer, world.hostile_consumer
    grant = request_access(world.signed_in(consumer), consumer, dataset, purpose=PURPOSE, fields=[], uses=1, days=1)
    # The hostile consumer publishes another purpose, and the honest one's text under its own name:
    # neither hash is the grant's but the second, whose text is the very same.
    chain = world.ledger(hostile).anchors
    chain.publish_text("营销名单：用于商业推广")
    chain.publish_text(PURPOSE)
    owner = world.staff(OWNER)
    item = wait_for("the request in the owner's queue", lambda: _queued(owner, grant, "owner"))
    assert item["purpose"] == PURPOSE
    on_chain = world.ledger(world.coordinator).grants.grant(bytes.fromhex(grant[2:]))
    assert on_chain.purpose_hash == ids.text_hash(PURPOSE)
    # The honest request is still decided as asked.
    owner.call("POST", f"/grants/{grant}/approve", json={"reason": "ok"})
    assert world.wait_status(grant, ("active",)) == "active"


def test_a_purpose_holding_an_id_number_or_a_mobile_number_does_not_go_on_chain(world: World) -> None:
    dataset = world.publish(people(10))
    consumer = world.honest_consumer
    api = world.signed_in(consumer)
    with pytest.raises(UsageError, match="purpose: holds an ID number"):
        request_access(api, consumer, dataset, purpose="核查 11010519491231002X 的就诊记录", fields=[], uses=1, days=1)
    # Signed by the consumer itself and sent to the relay, the node refuses it too (422, naming the purpose).
    schema = next(e for e in api.call("GET", "/catalog") if e["dataset_id"] == dataset)["schema_hash"]
    with pytest.raises(Refused) as refused:
        signed_call(api, consumer, "AccessGrants", "requestAccess", b"\x07" * 32,
                    (bytes.fromhex(dataset[2:]), "回访 138 0013 8000", bytes.fromhex(schema[2:]), [], 1, 86400, 1))
    assert refused.value.status_code == 422 and "purpose" in str(refused.value) and "mobile" in str(refused.value)
    # A reviewer's reason is refused the same way, and the honest request is still decided.
    grant = request_access(api, consumer, dataset, purpose="区县就诊量统计", fields=[], uses=1, days=1)
    owner = world.staff(OWNER)
    wait_for("the request in the owner's queue", lambda: _queued(owner, grant, "owner"))
    with pytest.raises(Refused) as reason:
        owner.call("POST", f"/grants/{grant}/reject", json={"reason": "申请人手机13800138000不符"})
    assert reason.value.status_code == 422 and "reason" in str(reason.value)
    owner.call("POST", f"/grants/{grant}/approve", json={"reason": "ok"})
    assert world.wait_status(grant, ("active",)) == "active"


def test_a_department_can_neither_open_an_issue_on_another_departments_data_nor_close_the_coordinators(
        world: World) -> None:
    dataset = world.publish(people(10))
    hostile = world.staff(HOSTILE)
    with pytest.raises(Refused) as refused:
        hostile.call("POST", "/quality/issues", json={"dataset_id": dataset, "version": 1, "findings": FINDINGS})
    assert refused.value.status_code == 403 and "only the coordinator" in str(refused.value)

    coordinator, owner = world.staff(COORDINATOR_NODE), world.staff(OWNER)
    issue_id = coordinator.call("POST", "/quality/issues", json={
        "dataset_id": dataset, "version": 1, "findings": FINDINGS[:1]})["issue_id"]
    wait_for("the issue returned", lambda: _issue(owner, issue_id, "returned"))
    world.add_version(dataset, people(11))
    owner.wait_write(owner.call("POST", f"/quality/issues/{issue_id}/repair", json={"version": 2}), "the repair")
    wait_for("the repair", lambda: _issue(hostile, issue_id, "repaired") if _issue(hostile, issue_id) else
             _issue(owner, issue_id, "repaired"))
    # Past its node, with its own key on the chain: the contract refuses the hostile department too.
    chain = world.ledger(world.department_account(HOSTILE)).quality
    with pytest.raises(ContractError) as reverted:
        chain.verify_and_close(bytes.fromhex(issue_id[2:]))
    assert reverted.value.name == "QualityNotReviewer"
    # The coordinator still closes it.
    coordinator.wait_write(coordinator.call("POST", f"/quality/issues/{issue_id}/close", json={"note": "ok"}), "closing")
    assert wait_for("closed", lambda: _issue(owner, issue_id, "closed"))["status"] == "closed"


def test_closing_an_issue_not_repaired_yet_is_a_conflict(world: World) -> None:
    dataset = world.publish(people(10))
    coordinator = world.staff(COORDINATOR_NODE)
    issue_id = coordinator.call("POST", "/quality/issues", json={
        "dataset_id": dataset, "version": 1, "findings": FINDINGS[:1]})["issue_id"]
    wait_for("the issue returned", lambda: _issue(coordinator, issue_id, "returned"))
    with pytest.raises(Refused) as refused:
        coordinator.call("POST", f"/quality/issues/{issue_id}/close", json={})
    assert refused.value.status_code == 409 and "not repaired" in str(refused.value)
    with pytest.raises(CliError):
        coordinator.call("POST", "/quality/issues", json={"dataset_id": dataset, "version": 9, "findings": FINDINGS})
