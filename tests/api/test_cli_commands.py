"""Every ``provledger`` command, run in-process over real HTTP against one local deployment of
two named departments (民政局 owns the data, 大数据局 coordinates), with ``--json`` where it
prints results; and a walk of the argparse tree that fails for a command no test here runs.

Commands other files test are named in :data:`ELSEWHERE`; a command added later must get a test
here, or there and a line in it."""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli import Api, Progress, build_parser, decide, main, register_dataset, request_access
from api.demo import FIELDS, people, write_csv
from api.local import LocalDeployment, Participant
from ledger.chain import free_port
from ledger.compile import PROJECT_ROOT
from ledger.waiting import wait_for
from node.access.delivery.fingerprint import plain_masks
from node.departments import DepartmentPlan, DepartmentSpec

CIVIL, DATA = DepartmentSpec("civil-affairs", "民政局"), DepartmentSpec("big-data", "大数据局")
RULE_PASSES = '{"kind": "completeness", "fields": ["phone"]}'
RULE_FAILS = '{"kind": "validity", "fields": ["id_number"]}'


@dataclass
class Site:
    deployment: LocalDeployment
    dataset: str
    granted: str
    to_reject: str
    to_revoke: str
    to_withdraw: str
    folder: Path

    @property
    def consumer(self) -> Participant:
        return self.deployment.consumers[0]

    @property
    def url(self) -> str:
        return self.deployment.department(CIVIL.code).url

    @property
    def staff(self) -> tuple[str, ...]:
        owner = self.deployment.department(CIVIL.code)
        return "--api", self.url, "--user", owner.username, "--password", owner.password

    @property
    def wallet(self) -> tuple[str, ...]:
        return "--api", self.url, "--keystore", str(self.consumer.keystore)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A grade-2 dataset of 民政局 (a wrong check digit in it), four requests by a consumer,
    one approved with a quota of one use."""
    folder = tmp_path_factory.mktemp("cli-commands")
    with LocalDeployment(departments=DepartmentPlan((CIVIL, DATA), DATA.code)) as deployment:
        owner, consumer = deployment.department(CIVIL.code), deployment.consumers[0]
        with Api(owner.url, Progress(False)) as staff, Api(owner.url, Progress(False)) as asking:
            staff.sign_in_staff(owner.username, owner.password)
            dataset, _, _ = register_dataset(
                staff, write_csv(folder / "v1.csv", people(40, broken=True)), code="dibao", name="低保人员名册",
                category="civil", grade=2, interval=86400, rules=[], key_fields=["id_number"],
                field_classes={"name": "name", "id_number": "id_number", "phone": "mobile", "address": "address"})
            asking.sign_in_siwe(consumer.account)
            grants = [request_access(asking, consumer.account, dataset["dataset_id"], purpose=purpose,
                                     fields=["visits"], uses=uses, days=30)
                      for purpose, uses in (("低保核查", 1), ("营销名单", 5), ("走访计划", 5), ("重复申请", 5))]
            staff.progress.wait("the review queue", lambda: {q["grant_id"] for q in staff.call(
                "GET", "/review/queue")} >= set(grants) or None, timeout=60)
            decide(staff, grants[0], price=2, reason="低保核查")
        yield Site(deployment, dataset["dataset_id"], *grants, folder)


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, site: Site) -> pytest.MonkeyPatch:
    """No PROVLEDGER_* of the shell running the tests; the keystores' passphrase."""
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", site.deployment.passphrase)
    return monkeypatch


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, f"{argv}: exit {code}\n{out}{err}"
    return out


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    return json.loads(ok(capsys, *argv, "--json"))


def one_line(code: int, err: str, status: int, says: str) -> None:
    assert code == status, err
    assert err.count("\n") == 1 and says in err, err


def until(what: str, probe: Any, timeout: float = 60.0) -> Any:
    return wait_for(lambda: probe() or None, timeout=timeout, what=what, interval=0.2)


# ---------------------------------------------------------------- departments


def test_departments_lists_the_members_by_their_chinese_names(
        site: Site, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    found = as_json(capsys, "departments", "--api", site.url)
    assert found == [{"code": "civil-affairs", "name": "民政局", "this_node": True},
                     {"code": "big-data", "name": "大数据局", "this_node": False}]
    out = ok(capsys, "departments", "--api", site.url)
    assert "民政局  (this node)" in out and "大数据局" in out and "\\u" not in out


@pytest.mark.timeout(120)
def test_up_names_departments_and_stops_on_sigterm(tmp_path: Path) -> None:
    named = tmp_path / "departments.toml"
    named.write_text('coordinator = "market-regulation"\n[departments]\ncivil-affairs = "民政局"\n'
                     'market-regulation = "市场监管局"\n', encoding="utf-8")
    up = subprocess.Popen([sys.executable, "-m", "api.cli", "up", "--departments-file", str(named)], cwd=PROJECT_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    try:
        assert up.stdout is not None
        lines = []
        for line in up.stdout:
            lines.append(line)
            if line.startswith("serving") or len(lines) > 40:
                break
        text = "".join(lines)
        assert "2 department node(s) up" in text, text
        assert "民政局 (civil-affairs)  http" in text and "市场监管局 (market-regulation) (also coordinator)" in text
        url = next(w for line in lines if "(civil-affairs)" in line for w in line.split() if w.startswith("http"))
        assert httpx.get(f"{url}/departments", timeout=10).json()[1] == {
            "code": "market-regulation", "name": "市场监管局", "this_node": False}
    finally:
        up.send_signal(signal.SIGTERM)
        rest, _ = up.communicate(timeout=60)
    assert up.returncode == 0 and rest.strip().endswith("stopped"), rest


@pytest.mark.parametrize(("argv", "says"), [
    (("--department", "Civil=民政局"), "a-z, 0-9 and '-'"), (("--department", "civil-affairs="), "1 to 64"),
    (("--departments", "2", "--department", "civil-affairs=民政局"), "--departments N makes unnamed"),
    (("--department", "civil-affairs=民政局", "--coordinator", "big-data"), "none of the departments"),
])
def test_up_refuses_a_bad_department_in_one_line(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                 argv: tuple[str, ...], says: str) -> None:
    code, out, err = run(capsys, "up", *argv)
    one_line(code, err, 2, says)
    assert out == ""


# ---------------------------------------------------------------- datasets


def test_dataset_list_show_and_a_new_version(site: Site, env: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    listed = as_json(capsys, "dataset", "list", *site.staff)
    assert [d["dataset_id"] for d in listed] == [site.dataset] and listed[0]["name"] == "低保人员名册"
    assert "低保人员名册  (owner 民政局, civil-affairs; grade 2; version 1)" in ok(capsys, "dataset", "list", *site.staff)
    out = ok(capsys, "dataset", "show", site.dataset, *site.staff)
    assert "owner 民政局" in out and "version 1: 40 records" in out

    version = as_json(capsys, "dataset", "version", site.dataset, str(write_csv(site.folder / "v2.csv",
                                                                                  people(41, broken=False))),
                      *site.staff)
    assert version["number"] == 2 and version["record_count"] == 41 and version["anchored_block"] > 0
    code, _, err = run(capsys, "dataset", "version", site.dataset, str(site.folder / "absent.csv"), *site.staff)
    one_line(code, err, 2, "no such file")
    out = ok(capsys, "dataset", "register", str(site.folder / "v2.csv"), "--code", "open-list", "--name", "公开名单",
             "--category", "civil", "--grade", "1", "--interval", "0", "--no-wait", *site.staff)
    assert "registered by 民政局 (civil-affairs)" in out and "anchoring queued" in out


def test_quality_rules_set_and_show_and_a_check_that_fails_exits_1(
        site: Site, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rules = as_json(capsys, "quality", "rules", "set", site.dataset, "--rule", RULE_PASSES, *site.staff)
    assert [(r["kind"], r["fields"]) for r in rules] == [("completeness", ["phone"])]
    assert "completeness  phone" in ok(capsys, "quality", "rules", "show", site.dataset, *site.staff)
    report = as_json(capsys, "quality", "check", site.dataset, "1", "--no-issue", *site.staff)
    assert report["passed"] is True and report["issue_id"] is None

    ok(capsys, "quality", "rules", "set", site.dataset, "--rule", RULE_PASSES, "--rule", RULE_FAILS, *site.staff)
    assert len(as_json(capsys, "quality", "rules", "show", site.dataset, *site.staff)) == 2
    code, out, err = run(capsys, "quality", "check", site.dataset, "1", "--no-issue", *site.staff)
    assert code == 1 and err == "", err
    assert "FAILED" in out and "validity      id_number" in out and "1 of 40 failed" in out
    code, _, err = run(capsys, "quality", "rules", "set", site.dataset, "--rule", '{"kind": "beauty"}', *site.staff)
    one_line(code, err, 2, "is not a quality rule")


def test_a_reviewer_freezes_and_unfreezes_a_dataset(site: Site, env: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    frozen = as_json(capsys, "dataset", "freeze", site.dataset, "--reason", "数据泄露调查", *site.staff)
    assert frozen["status"] == "confirmed" and frozen["kind"] == "freeze"
    until("the freeze indexed", lambda: as_json(capsys, "dataset", "show", site.dataset, *site.staff)["frozen"])
    out = ok(capsys, "dataset", "unfreeze", site.dataset, "--reason", "调查结束", *site.staff)
    assert f"dataset {site.dataset} unfrozen: confirmed in block" in out
    until("the unfreeze indexed",
          lambda: not as_json(capsys, "dataset", "show", site.dataset, *site.staff)["frozen"])


# ---------------------------------------------------------------- review


def test_reject_revoke_withdraw_and_follow_a_write(site: Site, env: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rejected = as_json(capsys, "reject", site.to_reject, "--reason", "用途不符", *site.staff)
    assert rejected["status"] == "confirmed"
    queued = as_json(capsys, "approve", site.to_revoke, "--no-wait", *site.staff)
    followed = as_json(capsys, "write", str(queued["id"]), "--wait", *site.staff)
    assert followed["id"] == queued["id"] and followed["status"] == "confirmed" and followed["block_number"] > 0
    assert f"write {queued['id']} (approve:{site.to_revoke}): confirmed in block" in ok(
        capsys, "write", str(queued["id"]), *site.staff)
    out = ok(capsys, "revoke", site.to_revoke, "--reason", "超出用途使用", *site.staff)
    assert f"grant {site.to_revoke} revoked: confirmed in block" in out
    code, _, err = run(capsys, "revoke", site.to_revoke, *site.staff)
    one_line(code, err, 2, "--reason")
    code, _, err = run(capsys, "write", "999999", *site.staff)
    one_line(code, err, 1, "404")

    withdrawn = as_json(capsys, "withdraw", site.to_withdraw, *site.wallet)
    assert withdrawn["status"] == "success" and withdrawn["function"] == "withdraw"
    code, _, err = run(capsys, "withdraw", site.to_withdraw, *site.wallet)  # no longer pending
    one_line(code, err, 1, "withdraw reverted")

    def statuses() -> dict[str, str] | None:
        grants = {g["grant_id"]: g["status"] for g in as_json(capsys, "grants", *site.wallet)}
        done = (grants.get(site.to_revoke), grants.get(site.to_reject), grants.get(site.to_withdraw))
        return grants if done == ("revoked", "rejected", "withdrawn") else None

    assert until("the decisions indexed", statuses)[site.granted] == "active"


# ---------------------------------------------------------------- a consumer


def test_a_delivery_kept_encrypted_is_decrypted_later_and_attributed_when_leaked(
        site: Site, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sealed, opened = site.folder / "delivery.bin", site.folder / "delivery.csv"
    delivery = as_json(capsys, "use", site.granted, "--encrypt", "--keep-encrypted", "--out", str(sealed),
                       *site.wallet)
    assert delivery["encrypted"] is True and delivery["decrypted"] is False and delivery["rows"] == 41
    assert not sealed.read_bytes().startswith(b"name,")
    out = ok(capsys, "decrypt", str(sealed), "--out", str(opened), "--keystore", str(site.consumer.keystore))
    assert f"decrypted into {opened}" in out
    rows = list(csv.reader(plain_masks(opened.read_text(encoding="utf-8")).splitlines()))
    assert rows[0] == list(FIELDS) and len(rows) == 42
    assert "*" in rows[1][0] and rows[1][4] == people(41, broken=False)[0][4]  # visits in the clear, as granted

    code, _, err = run(capsys, "decrypt", str(opened), "--keystore", str(site.consumer.keystore))
    one_line(code, err, 1, str(opened))
    code, _, err = run(capsys, "use", site.granted, "--keep-encrypted", "--out", str(sealed), *site.wallet)
    one_line(code, err, 2, "--keep-encrypted goes with --encrypt")

    uses = until("the use indexed", lambda: as_json(capsys, "uses", *site.wallet))
    assert [(u["grant_id"], u["refused"]) for u in uses] == [(site.granted, None)]
    assert f"grant {site.granted[:18]}" in ok(capsys, "uses", *site.wallet)
    mine = until("the quota counted", lambda: [g for g in as_json(capsys, "grants", *site.wallet)
                                              if g["grant_id"] == site.granted and g["uses"] == 1])
    assert mine[0]["fields"] == ["visits"]

    found = as_json(capsys, "attribute", str(opened), "--dataset", site.dataset, *site.staff)
    assert found["delivery_id"] == delivery["delivery_id"] and found["consumer"] == site.consumer.address
    assert found["confident"] is True
    out = ok(capsys, "attribute", str(opened), *site.staff)
    assert f"attributed confidently to delivery {delivery['delivery_id']}" in out

    alerts = until("the quota alert", lambda: as_json(capsys, "alerts", "--kind", "quota", *site.staff))
    assert alerts[0]["grant_id"] == site.granted
    out = ok(capsys, "alerts", "--keystore", str(site.deployment.auditor.keystore),  # type: ignore[union-attr]
             "--api", site.url)
    assert "quota" in out and "alert(s)" in out


def test_a_statement_issued_shown_checked_and_acknowledged(site: Site, env: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    until("the use indexed", lambda: as_json(capsys, "uses", *site.wallet))
    issued = as_json(capsys, "statement", "issue", "--consumer", site.consumer.address, "--from", "0",
                     "--to", "2100-01-01", *site.staff)
    statement = issued["statement_id"]
    assert issued["amount"] == "2" and issued["body"]["lines"][0]["grant_id"] == site.granted
    with Api(site.url, Progress(False)) as node:
        until("the owner's acknowledgement on chain", node.settled)
    shown = as_json(capsys, "statement", "show", statement, *site.wallet)
    assert shown["statement_hash"] == issued["statement_hash"]
    assert f"statement {statement}: civil-affairs to {site.consumer.address}, amount 2" in ok(
        capsys, "statement", "show", statement, *site.staff)
    checked = as_json(capsys, "statement", "check", statement, *site.wallet)
    assert checked["statement_id"] == statement and checked["acknowledged"] is None
    done = as_json(capsys, "statement", "acknowledge", statement, *site.wallet)
    assert done["acknowledged"]["status"] == "success"

    auditor = ("--api", site.url, "--keystore", str(site.deployment.auditor.keystore))  # type: ignore[union-attr]
    traced = as_json(capsys, "trace", "--consumer", site.consumer.address, "--verify", *auditor)
    names = {item["name"] for item in traced["items"]}
    assert {"AccessRequested", "RequestRejected", "GrantRevoked", "RequestWithdrawn"} <= names, names
    assert traced["complete"] is True and traced["failed"] == 0
    code, _, err = run(capsys, "trace", site.dataset, "--consumer", site.consumer.address, *auditor)
    one_line(code, err, 2, "trace DATASET, or trace --consumer ADDRESS")
    code, _, err = run(capsys, "statement", "issue", "--consumer", site.consumer.address, "--from", "2100-01-01",
                       "--to", "yesterday", *site.staff)
    one_line(code, err, 2, "neither unix seconds nor an ISO 8601")


# ---------------------------------------------------------------- serve


@pytest.mark.timeout(60)
def test_serve_runs_one_node_from_its_settings(site: Site, tmp_path: Path) -> None:
    owner, port = site.deployment.department(CIVIL.code), free_port()
    settings = {"DEPARTMENT_ID": CIVIL.code, "CHAIN_URL": site.deployment.chain_url,
                "MANIFEST_PATH": str(site.deployment.manifest_path),
                "KEYSTORE_PATH": str(site.deployment.work_dir / "keys" / f"{CIVIL.code}.json"),
                "PASSPHRASE": site.deployment.passphrase, "DATA_DIR": str(tmp_path / "data"),
                "API_PORT": str(port)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env |= {f"PROVLEDGER_{k}": v for k, v in settings.items()} | {"PYTHONPATH": str(PROJECT_ROOT)}
    served = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def answered() -> Any:
            if served.poll() is not None:
                raise AssertionError(f"serve exited {served.returncode}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/departments", timeout=2).json()
            except httpx.HTTPError:
                return None

        assert until("provledger serve to answer", answered, timeout=45)[0] == {
            "code": CIVIL.code, "name": "民政局", "this_node": True}
        assert owner.url != f"http://127.0.0.1:{port}"
    finally:
        served.send_signal(signal.SIGTERM)
        _, err = served.communicate(timeout=30)
    # uvicorn shuts down gracefully, then ends by the signal it handled.
    assert served.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in err, err


# ---------------------------------------------------------------- every command has a test


OPERATORS = "tests.consortium.test_operators:test_three_departments_found_a_consortium_and_a_fourth_is_voted_in_and_out"
ELSEWHERE = {
    "demo": "tests.api.test_cli:test_the_demo_tells_every_step_and_exits_0",
    "dataset register": "tests.api.test_cli:test_register_request_approve_use_and_trace_round_trip",
    "request": "tests.api.test_cli:test_register_request_approve_use_and_trace_round_trip",
    "approve": "tests.api.test_cli:test_register_request_approve_use_and_trace_round_trip",
    "use": "tests.api.test_cli:test_register_request_approve_use_and_trace_round_trip",
    "query": "tests.api.test_queries_routes:test_provledger_query_prints_the_release_checked_against_the_chain",
    "queries": "tests.api.test_query_people:test_a_query_grant_asked_reviewed_and_used_without_code",
    "trace": "tests.api.test_cli:test_register_request_approve_use_and_trace_round_trip",  # and --consumer here
    "verify": "tests.api.test_cli:test_verify_a_local_file_against_a_root",
    "review": "tests.api.test_cli:test_review_reject_and_the_coordinators_quality_loop_from_the_command_line",
    "quality list": "tests.api.test_cli:test_review_reject_and_the_coordinators_quality_loop_from_the_command_line",
    "quality open": "tests.api.test_cli:test_review_reject_and_the_coordinators_quality_loop_from_the_command_line",
    "quality repair": "tests.api.test_cli:test_review_reject_and_the_coordinators_quality_loop_from_the_command_line",
    "quality close": "tests.api.test_cli:test_review_reject_and_the_coordinators_quality_loop_from_the_command_line",
    "quality reopen": "tests.api.test_seed_story:test_the_seed_story_with_chinese_departments",
    "catalog show": "tests.api.test_cli:test_catalog_lists_every_department_s_datasets_on_any_node",  # and catalog --q
    "login": "tests.dashboard.test_dashboard:test_provledger_login_prints_a_link_that_signs_the_auditor_in_once",
    "consortium up": "tests.consortium.test_commands:test_down_stops_the_up_process_it_recorded_and_no_other_process",
    "consortium down": "tests.consortium.test_commands:test_down_stops_the_up_process_it_recorded_and_no_other_process",
    "consortium status": "tests.consortium.test_commands:test_down_stops_the_up_process_it_recorded_and_no_other_process",
    "node init": OPERATORS,
    "node start": OPERATORS,
    "node join": OPERATORS,
    "consortium genesis": OPERATORS,
    "consortium deploy": OPERATORS,
    "staff add": "tests.api.test_staff:test_the_operator_makes_lists_disables_and_resets_staff_accounts",
    "staff list": "tests.api.test_staff:test_the_operator_makes_lists_disables_and_resets_staff_accounts",
    "staff disable": "tests.api.test_staff:test_the_operator_makes_lists_disables_and_resets_staff_accounts",
    "staff password": "tests.api.test_staff:test_the_operator_makes_lists_disables_and_resets_staff_accounts",
    "staff role": "tests.api.test_staff:test_the_operator_makes_lists_disables_and_resets_staff_accounts",
    "node backup": "tests.node.maintenance.test_backup:test_a_backup_taken_while_delivering_restores_into_a_node_with_the_same_data",
    "node restore": "tests.node.maintenance.test_backup:test_a_backup_taken_while_delivering_restores_into_a_node_with_the_same_data",
    "node reindex": "tests.node.maintenance.test_reindex:test_a_row_the_chain_does_not_back_is_found_and_replace_puts_the_chain_s_back",
    "dataset purge": "tests.adversarial.test_purge:test_the_cli_purges_a_person_and_a_version_and_never_prints_the_id_number",
    "node rotate-data-key": "tests.node.test_store:test_rotate_data_key_rewraps_with_the_node_stopped_and_refuses_bad_input",
    "consortium show": "tests.api.test_cli_governance:test_members_propose_vote_and_execute_an_admission",
    "consortium propose admit": "tests.api.test_cli_governance:test_members_propose_vote_and_execute_an_admission",
    "consortium propose remove": "tests.api.test_cli_governance:test_members_propose_vote_and_execute_an_admission",
    "consortium vote": "tests.api.test_cli_governance:test_members_propose_vote_and_execute_an_admission",
    "consortium execute": "tests.api.test_cli_governance:test_members_propose_vote_and_execute_an_admission",
    "consortium pause": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "consortium resume": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "consortium close-founding": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "consumer add": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
    "consumer remove": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
    "consumer list": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
    "auditor appoint": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "auditor remove": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "coordinator appoint": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "coordinator remove": "tests.api.test_cli_governance:test_the_coordinator_appoints_auditors_and_coordinators_and_pauses_the_ledger",
    "service-account offer": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
    "service-account remove": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
    "service-account accept": "tests.api.test_cli_governance:test_a_department_sponsors_a_consumer_and_takes_a_service_account_that_accepts_itself",
}
HERE = {
    "up": test_up_names_departments_and_stops_on_sigterm,
    "departments": test_departments_lists_the_members_by_their_chinese_names,
    "dataset list": test_dataset_list_show_and_a_new_version,
    "dataset show": test_dataset_list_show_and_a_new_version,
    "dataset version": test_dataset_list_show_and_a_new_version,
    "dataset freeze": test_a_reviewer_freezes_and_unfreezes_a_dataset,
    "dataset unfreeze": test_a_reviewer_freezes_and_unfreezes_a_dataset,
    "quality rules set": test_quality_rules_set_and_show_and_a_check_that_fails_exits_1,
    "quality rules show": test_quality_rules_set_and_show_and_a_check_that_fails_exits_1,
    "quality check": test_quality_rules_set_and_show_and_a_check_that_fails_exits_1,
    "reject": test_reject_revoke_withdraw_and_follow_a_write,
    "revoke": test_reject_revoke_withdraw_and_follow_a_write,
    "withdraw": test_reject_revoke_withdraw_and_follow_a_write,
    "write": test_reject_revoke_withdraw_and_follow_a_write,
    "grants": test_reject_revoke_withdraw_and_follow_a_write,
    "uses": test_a_delivery_kept_encrypted_is_decrypted_later_and_attributed_when_leaked,
    "decrypt": test_a_delivery_kept_encrypted_is_decrypted_later_and_attributed_when_leaked,
    "attribute": test_a_delivery_kept_encrypted_is_decrypted_later_and_attributed_when_leaked,
    "alerts": test_a_delivery_kept_encrypted_is_decrypted_later_and_attributed_when_leaked,
    "statement issue": test_a_statement_issued_shown_checked_and_acknowledged,
    "statement show": test_a_statement_issued_shown_checked_and_acknowledged,
    "statement check": test_a_statement_issued_shown_checked_and_acknowledged,
    "statement acknowledge": test_a_statement_issued_shown_checked_and_acknowledged,
    "serve": test_serve_runs_one_node_from_its_settings,
}


def leaves(parser: argparse.ArgumentParser,
           path: tuple[str, ...] = ()) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command with no subcommands of its own, by its words after ``provledger``."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        yield " ".join(path), parser
    for action in nested:
        for name, child in action.choices.items():
            yield from leaves(child, (*path, name))


def test_every_command_has_a_test_and_help_and_json_where_it_prints_results(
        capsys: pytest.CaptureFixture[str]) -> None:
    found = dict(leaves(build_parser()))
    untested = sorted(set(found) - set(HERE) - set(ELSEWHERE))
    assert not untested, f"commands no test runs: {untested} (test them here, or name their test in ELSEWHERE)"
    assert not set(HERE) & set(ELSEWHERE) and set(HERE) | set(ELSEWHERE) <= set(found)
    for command, where in ELSEWHERE.items():
        module, name = where.split(":")
        assert callable(getattr(importlib.import_module(module), name, None)), f"{command}: no test {where}"
    # Commands that start or serve something print no result to read as JSON.
    quiet = {"up", "demo", "consortium up", "consortium down", "consortium status", "serve", "staff add", "staff disable", "staff password", "staff role",
             "decrypt", "node init", "node start", "node join", "consortium genesis", "consortium deploy"}
    for command, parser in found.items():
        code, out, _ = run(capsys, *command.split(), "--help")
        assert code == 0 and out.startswith(f"usage: provledger {command}"), command
        assert ("--json" in out) == (command not in quiet), command
