"""The consortium's governance from the command line (:mod:`api.cli.governance`), in-process over
real HTTP against one local deployment of three named departments: 民政局 and 卫健委 are members,
大数据局 also coordinates. Members propose, vote and execute an admission of 市场监管局; a
department sponsors a consumer with its profile and takes a service account that accepts with its
own keystore; the coordinator appoints and removes auditors and coordinators and pauses and resumes
the ledger. Bad input exits 2 in one line before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from api.local import LocalDeployment
from ledger.tx import write_keystore
from node.departments import DepartmentPlan, DepartmentSpec
from tests.api.test_cli_commands import as_json, ok, one_line, run, until
from tests.api.test_seed_story import env, staff  # noqa: F401 (env: a fixture)

CIVIL, DATA, HEALTH = (DepartmentSpec("civil-affairs", "民政局"), DepartmentSpec("big-data", "大数据局"),
                       DepartmentSpec("health", "卫健委"))
MARKET = DepartmentSpec("market-regulation", "市场监管局")


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(departments=DepartmentPlan((CIVIL, DATA, HEALTH), DATA.code)) as local:
        yield local


def new_address() -> str:
    return str(Account.create().address)


def service_accounts(capsys: pytest.CaptureFixture[str], civil: tuple[str, ...]) -> list[str]:
    members = {m["code"]: m for m in as_json(capsys, "consortium", "show", *civil)["members"]}
    return list(members[CIVIL.code]["service_accounts"])


def proposals(capsys: pytest.CaptureFixture[str], deployment: LocalDeployment) -> dict[str, dict[str, Any]]:
    state = as_json(capsys, "consortium", "show", *staff(deployment, CIVIL.code))
    return {p["id"]: p for p in state["proposals"]}


def test_members_propose_vote_and_execute_an_admission(deployment: LocalDeployment, env: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    civil, data = staff(deployment, CIVIL.code), staff(deployment, DATA.code)
    state = as_json(capsys, "consortium", "show", *civil)
    assert [(m["code"], m["name"]) for m in state["members"]] == [(d.code, d.name) for d in (CIVIL, DATA, HEALTH)]
    shown = ok(capsys, "consortium", "show", *civil)
    assert "民政局 (civil-affairs)" in shown and "3 member(s)" in shown and "\\u" not in shown

    # Bad input: one line, exit 2, and no proposal opened.
    for argv, says in (
            (("admit", "Market_Regulation", "--name", MARKET.name, "--validator", new_address(),
              "--service-account", new_address()), "department code"),
            (("admit", MARKET.code, "--name", MARKET.name, "--validator", "0x12", "--service-account", new_address()),
             "is not an account address"),
            (("remove", "市场"), "department code")):
        code, out, err = run(capsys, "consortium", "propose", *argv, *civil)
        one_line(code, err, 2, says)
        assert out == ""
    assert proposals(capsys, deployment) == {}
    code, _, err = run(capsys, "consortium", "vote", "0x1234", *civil)
    one_line(code, err, 2, "is not a proposal id")

    validator, service = new_address(), new_address()
    proposed = as_json(capsys, "consortium", "propose", "admit", MARKET.code, "--name", MARKET.name,
                       "--validator", validator, "--service-account", service, *civil)
    proposal = proposed["proposal"]
    assert proposed["status"] == "confirmed" and proposed["proposal_state"]["yes"] == 0
    opened = proposals(capsys, deployment)[proposal]
    assert opened["kind"] == "admission" and opened["department"] == {"code": MARKET.code, "name": MARKET.name}
    assert opened["validator"] == validator and opened["service_account"] == service and opened["quorum"] == 2

    out = ok(capsys, "consortium", "vote", proposal, *civil)
    assert out.strip() == "voted for admitting 市场监管局 (market-regulation): 1 of 2 needed"
    code, _, err = run(capsys, "consortium", "vote", proposal, *civil)
    one_line(code, err, 1, "409")
    code, _, err = run(capsys, "consortium", "execute", proposal, *civil)  # no majority yet
    assert code == 1 and err.count("\n") == 1, err
    out = ok(capsys, "consortium", "vote", proposal, *data)
    assert "voted for admitting 市场监管局 (market-regulation): 2 of 2 needed; it has passed" in out
    shown = ok(capsys, "consortium", "show", *civil)
    assert "大数据局 (big-data)" in shown and "(you voted)" in shown
    out = ok(capsys, "consortium", "execute", proposal, *data)
    assert out.strip() == "executed the admission of 市场监管局 (market-regulation): now a member"
    state = as_json(capsys, "consortium", "show", *civil)
    admitted = next(m for m in state["members"] if m["code"] == MARKET.code)
    assert admitted["name"] == MARKET.name and admitted["validator"] == validator
    assert admitted["service_accounts"] == [service]

    # The removal, proposed without waiting: the write is followed later.
    queued = as_json(capsys, "consortium", "propose", "remove", MARKET.code, "--no-wait", *civil)
    assert queued["status"] in ("pending", "signed", "confirmed") and queued["proposal"].startswith("0x")
    assert "confirmed in block" in ok(capsys, "write", str(queued["id"]), "--wait", *civil)
    assert proposals(capsys, deployment)[queued["proposal"]]["kind"] == "removal"


def test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    civil = staff(deployment, CIVIL.code)
    consumer = new_address()
    code, _, err = run(capsys, "consumer", "add", consumer, "--organisation", "某市统计研究院",
                       "--contact", "张三 13800138000", "--purpose", "人口统计研究", *civil)
    one_line(code, err, 2, "holds a mobile number")
    code, _, err = run(capsys, "consumer", "add", "0xnotanaddress", "--organisation", "某市统计研究院",
                       "--contact", "数据办公室", "--purpose", "人口统计研究", *civil)
    one_line(code, err, 2, "is not an account address")

    out = ok(capsys, "consumer", "add", consumer, "--organisation", "某市统计研究院", "--contact", "数据办公室",
             "--purpose", "人口统计研究", *civil)
    assert f"consumer {consumer} registered, sponsored by 民政局 (civil-affairs): 某市统计研究院" in out
    listed = {c["address"].lower(): c for c in as_json(capsys, "consumer", "list", *civil)}
    assert listed[consumer.lower()]["sponsor"] == {"code": CIVIL.code, "name": CIVIL.name}
    assert listed[consumer.lower()]["profile"] == {"organisation": "某市统计研究院", "contact": "数据办公室",
                                                   "purpose": "人口统计研究"}
    assert "sponsored by 民政局 (civil-affairs): 某市统计研究院" in ok(capsys, "consumer", "list", *civil)
    out = ok(capsys, "consumer", "remove", consumer, "--reason", "研究结束", *civil)
    assert f"consumer {consumer} removed" in out
    until("the removal indexed", lambda: consumer.lower() not in {
        c["address"].lower() for c in as_json(capsys, "consumer", "list", *civil)})

    # A new service account: offered by the department's admin, accepted by the account itself,
    # which pays its own gas (funded here by the deployment's first account).
    account = Account.create()
    assert deployment.chain is not None and deployment.coordinator is not None
    w3 = deployment.chain.web3()
    funder = deployment.coordinator.account
    tx = {"to": account.address, "value": Web3.to_wei(1, "ether"), "gas": 21_000, "gasPrice": w3.eth.gas_price,
          "nonce": w3.eth.get_transaction_count(funder.address), "chainId": w3.eth.chain_id}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(funder.sign_transaction(tx).raw_transaction))
    keystore = write_keystore(account, tmp_path / "new-service.json", deployment.passphrase)

    out = ok(capsys, "service-account", "offer", account.address, *civil)
    assert f"service account {account.address} offered" in out
    code, _, err = run(capsys, "service-account", "accept", "--department", "Civil Affairs", "--api",
                       deployment.department(CIVIL.code).url, "--keystore", str(keystore))
    one_line(code, err, 2, "department code")
    accepted = as_json(capsys, "service-account", "accept", "--department", CIVIL.code, "--api",
                       deployment.department(CIVIL.code).url, "--keystore", str(keystore))
    assert accepted["status"] == "success" and accepted["account"] == account.address
    until("the new service account indexed", lambda: account.address in service_accounts(capsys, civil))
    out = ok(capsys, "service-account", "remove", account.address, *civil)
    assert f"service account {account.address} removed" in out
    until("its removal indexed", lambda: account.address not in service_accounts(capsys, civil))


def test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data, civil = staff(deployment, DATA.code), staff(deployment, CIVIL.code)
    auditor, coordinator = new_address(), new_address()
    code, _, err = run(capsys, "auditor", "appoint", auditor, *civil)  # not the coordinator's node
    one_line(code, err, 1, "403")
    assert ok(capsys, "auditor", "appoint", auditor, *data).strip() == f"auditor {auditor} appointed"
    until("the auditor indexed", lambda: auditor in as_json(capsys, "consortium", "show", *civil)["auditors"])
    assert ok(capsys, "auditor", "remove", auditor, *data).strip() == f"auditor {auditor} removed"
    assert ok(capsys, "coordinator", "appoint", coordinator, *data).strip() == f"coordinator {coordinator} appointed"
    until("the coordinator indexed",
          lambda: coordinator in as_json(capsys, "consortium", "show", *civil)["coordinators"])
    assert ok(capsys, "coordinator", "remove", coordinator, *data).strip() == f"coordinator {coordinator} removed"
    until("the removals indexed", lambda: (lambda state: auditor not in state["auditors"] and coordinator not in state[
        "coordinators"])(as_json(capsys, "consortium", "show", *civil)))

    code, _, err = run(capsys, "consortium", "pause", "--reason", "值班电话 13800138000", *data)
    one_line(code, err, 2, "holds a mobile number")
    assert ok(capsys, "consortium", "pause", "--reason", "安全事件调查", *data).strip() == \
        "the ledger is paused: 安全事件调查"
    # The chain says paused as soon as the block is in; the reason's text reaches this node with the
    # indexed event and the coordinator's broadcast, which may come a moment later.
    state = until("the pause and its reason indexed",
                  lambda: (lambda s: s if s["paused"] and s["pause_reason"] else None)(
                      as_json(capsys, "consortium", "show", *civil)))
    assert state["pause_reason"] == "安全事件调查"
    assert "PAUSED: 安全事件调查" in ok(capsys, "consortium", "show", *civil)
    code, _, err = run(capsys, "consumer", "add", new_address(), "--organisation", "某研究院", "--contact", "办公室",
                       "--purpose", "研究", *civil)
    one_line(code, err, 1, "安全事件调查")
    assert ok(capsys, "consortium", "resume", "--reason", "调查结束", *data).strip() == \
        "the ledger is running again: 调查结束"
    until("the resume indexed", lambda: not as_json(capsys, "consortium", "show", *civil)["paused"])

    # Founding closed when the deployment seated its founders: refused, naming it.
    code, _, err = run(capsys, "consortium", "close-founding", *data)
    one_line(code, err, 1, "founding")
