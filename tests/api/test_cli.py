"""The ``provledger`` command line, run in-process over real HTTP against a real chain: a
:class:`LocalDeployment` (its own anvil, three department nodes serving their APIs on
127.0.0.1), a consumer and the auditor signing in with their keystores."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli import Api, Progress, main, upload_version, wait_anchored
from api.local import LocalDeployment
from ledger.hashing import content_root
from node.access.delivery.fingerprint import plain_masks
from ledger.waiting import wait_for

FIELDS = ("name", "id_number", "phone", "visits")
HASH = r"0x[0-9a-f]{64}"
STEPS = (
    "local deployment", "staff sign in", "registers a grade-3 dataset", "ask for access", "review queue",
    "co-approve", "downloads a delivery", "beyond the quota are refused", "alerts", "quality:", "settlement:",
    "auditor signs in with Ethereum and traces the dataset", "leaks", "a query grant",
)


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(departments=3) as local:
        yield local


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No PROVLEDGER_* of the shell running the tests."""
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    return monkeypatch


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in:\n{text}"
    return match[1]


def assert_usage_error(code: int, err: str, says: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert says in err, err


def in_queue(capsys: pytest.CaptureFixture[str], grant: str, *staff: str) -> dict[str, Any]:
    """The request in the review queue, once the node has indexed it (a decision needs its purpose in view)."""
    def queued() -> dict[str, Any] | None:
        code, out, err = run(capsys, "review", "--json", *staff)
        assert code == 0, err
        return next((q for q in json.loads(out) if q["grant_id"] == grant), None)

    found: dict[str, Any] = wait_for(queued, timeout=30, interval=0.5, what="the request in the queue")
    return found


def write_people(path: Path, count: int = 12) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [FIELDS, *((f"Person {i}", f"1101011990030{i:04d}", f"1390013{i:04d}", str(i % 5)) for i in range(count))])
    return path


# ---------------------------------------------------------------- bad usage


def test_an_unknown_subcommand_exits_2_with_one_line(env: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "bogus")
    assert_usage_error(code, err, "invalid choice: 'bogus'")
    assert out == ""


def test_no_subcommand_exits_2_with_one_line(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert_usage_error(code, err, "required")


def test_registering_a_missing_file_exits_2_before_reaching_the_node(
        env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "dataset", "register", str(tmp_path / "absent.csv"), "--code", "absent", "--name", "A",
                       "--category", "health", "--grade", "2", "--interval", "0", "--api", "http://127.0.0.1:9",
                       "--user", "someone", "--password", "a long password")
    assert_usage_error(code, err, "no such file")


@pytest.mark.parametrize("argv", [
    ("approve", "0x1234", "--api", "http://127.0.0.1:9"),
    ("use", "grant-7", "--api", "http://127.0.0.1:9"),
    ("approve", "0x" + "zz" * 32, "--co-approve"),
])
def test_a_malformed_grant_id_exits_2_with_one_line(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                    argv: tuple[str, ...]) -> None:
    code, _, err = run(capsys, *argv)
    assert_usage_error(code, err, "is not a grant id")


def test_a_rule_that_is_not_a_quality_rule_exits_2(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    source = write_people(tmp_path / "people.csv")
    for rule in ("{not json", '{"kind": "beauty"}', "[1, 2]"):
        code, _, err = run(capsys, "dataset", "register", str(source), "--code", "c", "--name", "N", "--category", "x",
                           "--grade", "1", "--interval", "0", "--rule", rule)
        assert_usage_error(code, err, "is not a quality rule")


def test_a_file_the_node_would_refuse_exits_2_before_reaching_the_node(
        env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_bytes("姓名,身份证号,手机号,住址\n张三,11010519491231002X,13900139000,北京\n".encode("gbk"))
    (tmp_path / "noise.csv").write_bytes(bytes(range(256)) * 4)
    register = ("dataset", "register", "--code", "c", "--name", "N", "--category", "x", "--grade", "2",
                "--interval", "0", "--api", "http://127.0.0.1:9", "--user", "someone", "--password", "a long password")
    code, _, err = run(capsys, *register, str(people), "--field-class", "身份证=id_number")
    assert_usage_error(code, err, "身份证 is no column of the file; its columns are 姓名, 身份证号, 手机号, 住址")
    code, _, err = run(capsys, *register, str(people), "--encoding", "utf-8")
    assert_usage_error(code, err, "is not utf-8 text: at byte 1 (line 1)")
    code, _, err = run(capsys, *register, str(tmp_path / "noise.csv"))
    assert_usage_error(code, err, "is neither UTF-8")
    code, _, err = run(capsys, *register, str(people), "--encoding", "latin-1")
    assert_usage_error(code, err, "'latin-1' is not one of utf-8, utf-8-sig, gbk, gb18030")
    code, _, err = run(capsys, "use", "0x" + "ab" * 32, "--encoding", "gbk", "--api", "http://127.0.0.1:9")
    assert_usage_error(code, err, "invalid choice: 'gbk'")


def test_a_statement_that_is_neither_an_id_nor_a_json_file_exits_2(
        env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "statement", "check", str(tmp_path / "absent.json"), "--api", "http://127.0.0.1:9")
    assert_usage_error(code, err, "is neither a statement id")
    (tmp_path / "list.json").write_text("[1, 2]")
    code, _, err = run(capsys, "statement", "acknowledge", str(tmp_path / "list.json"), "--api", "http://127.0.0.1:9")
    assert_usage_error(code, err, "holds no statement")


def test_a_command_needing_a_node_without_one_exits_2(env: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "approve", "0x" + "ab" * 32, "--user", "someone", "--password", "a long password")
    assert_usage_error(code, err, "PROVLEDGER_API")


def test_verify_a_local_file_against_a_root(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    source = write_people(tmp_path / "people.csv")
    root = "0x" + content_root(source).root.hex()
    code, out, err = run(capsys, "verify", "--file", str(source), "--root", root)
    assert code == 0 and "matches" in out and err == ""
    code, out, err = run(capsys, "verify", "--file", str(source), "--root", "0x" + "00" * 32)
    assert code == 1 and f"its root is {root}" in out and err == ""
    code, _, err = run(capsys, "verify", "--file", str(source))
    assert_usage_error(code, err, "--file PATH --root")


# ---------------------------------------------------------------- against the deployment


@pytest.mark.timeout(300)
def test_register_request_approve_use_and_trace_round_trip(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    health, bureau = deployment.department("health-commission"), deployment.department("stats-bureau")
    consumer, auditor = deployment.consumers[1], deployment.auditor
    assert auditor is not None
    env.setenv("PROVLEDGER_API", health.url)
    env.setenv("PROVLEDGER_PASSPHRASE", deployment.passphrase)
    staff = ("--user", health.username, "--password", health.password)
    source = write_people(tmp_path / "people.csv")

    code, out, err = run(capsys, "dataset", "register", str(source), "--code", "cli-people", "--name", "People",
                         "--category", "population", "--grade", "3", "--interval", "86400",
                         "--field-class", "name=name", "--field-class", "id_number=id_number",
                         "--field-class", "phone=mobile", "--key-field", "id_number",
                         "--rule", '{"kind": "completeness", "fields": ["phone"]}', *staff)
    assert code == 0, err
    dataset_id, root = found(rf"dataset ({HASH}) registered", out), found(rf"content root ({HASH})", out)
    assert "12 records, utf-8 text" in out and "anchored in block" in out

    chinese = tmp_path / "户籍.csv"
    chinese.write_bytes("姓名,身份证号,手机号\n司马筠菊,11010519491231002X,13900139000\n".encode("gb18030"))
    code, out, err = run(capsys, "dataset", "register", str(chinese), "--code", "cli-gbk", "--name", "户籍",
                         "--category", "civil", "--grade", "2", "--interval", "0", "--encoding", "GB18030",
                         "--field-class", "姓名=name", "--field-class", "身份证号=id_number", "--no-wait", *staff)
    assert code == 0, err
    assert "1 records, gb18030 text, fields 姓名,身份证号,手机号" in out

    code, out, err = run(capsys, "request", "--dataset", dataset_id, "--purpose", "a census check",
                         "--fields", "visits,address", "--uses", "2", "--days", "1",
                         "--keystore", str(consumer.keystore))
    assert_usage_error(code, err, "has no field address (its fields: name, id_number, phone, visits)")
    code, out, err = run(capsys, "request", "--dataset", dataset_id, "--purpose", "a census check",
                         "--fields", "visits", "--uses", "2", "--days", "1",
                         "--keystore", str(consumer.keystore))
    assert code == 0, err
    grant = found(rf"grant ({HASH}) requested by {consumer.address}", out)
    assert in_queue(capsys, grant, *staff)["purpose"] == "a census check"

    code, out, err = run(capsys, "approve", grant, "--price", "2", "--reason", "census", *staff)
    assert code == 0, err
    assert "approved: confirmed in block" in out
    code, _, err = run(capsys, "approve", grant, "--co-approve", *staff)
    assert code == 1 and "403 forbidden" in err and err.count("\n") == 1
    code, out, err = run(capsys, "approve", grant, "--co-approve", "--api", bureau.url, "--user", bureau.username,
                         "--password", bureau.password)
    assert code == 0, err
    assert "co-approved: confirmed in block" in out

    delivered = tmp_path / "delivery.csv"
    code, out, err = run(capsys, "use", grant, "--out", str(delivered), "--encrypt",
                         "--keystore", str(consumer.keystore))
    assert code == 0, err
    assert "12 rows, decrypted, utf-8 text" in out  # records: the header is not one
    rows = list(csv.reader(plain_masks(delivered.read_text()).splitlines()))
    assert rows[0] == list(FIELDS) and len(rows) == 13
    assert rows[1][3] == "0" and "*" in rows[1][0] and "*" in rows[1][1] and rows[1][2] == "139****0000"

    prov = tmp_path / "trace.prov.json"
    code, out, err = run(capsys, "trace", dataset_id, "--verify", "--prov", str(prov),
                         "--keystore", str(auditor.keystore))
    assert code == 0, err
    for name in ("DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "RequestCoApproved",
                 "GrantActivated"):
        assert name in out
    verified = int(found(r"(\d+) items verified, 0 failed", out))
    assert verified >= 7 and f"{verified} items" in out
    assert "activity" in json.loads(prov.read_text())

    code, out, err = run(capsys, "verify", dataset_id, "1", *staff)
    assert code == 0, err
    assert "match the anchored root" in out
    code, out, _ = run(capsys, "verify", "--file", str(source), "--root", root)
    assert code == 0 and "matches" in out


def test_catalog_lists_every_department_s_datasets_on_any_node(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    health, bureau = deployment.department("health-commission"), deployment.department("stats-bureau")
    code, out, err = run(capsys, "dataset", "register", str(write_people(tmp_path / "p.csv", 3)), "--code",
                         "cli-catalog", "--name", "门诊人次 2026", "--category", "health", "--grade", "2",
                         "--interval", "0", "--field-class", "name=name", "--api", health.url,
                         "--user", health.username, "--password", health.password)
    assert code == 0, err
    dataset_id = found(rf"dataset ({HASH}) registered", out)

    def shown() -> str | None:
        code, out, _ = run(capsys, "catalog", "show", dataset_id, "--api", bureau.url)
        return out if code == 0 else None

    out = wait_for(shown, timeout=60, interval=0.2, what="the dataset in the bureau's catalog")
    assert "门诊人次 2026" in out and "Health Commission (health-commission)" in out
    assert "no schedule" in out and "fields name, id_number, phone, visits" in out and "name=name" in out
    code, out, err = run(capsys, "catalog", "--q", "门诊", "--json", "--api", bureau.url)
    assert code == 0, err
    (entry,) = json.loads(out)
    assert (entry["dataset_id"], entry["owner_department"], entry["verified"]) == (
        dataset_id, "health-commission", True)
    code, out, err = run(capsys, "catalog", "--department", "Health Commission", "--api", bureau.url)
    assert code == 0 and dataset_id in out, err
    assert all("Health Commission (health-commission)" in line for line in out.splitlines()[1:])
    # A consumer finds the health commission's dataset in the bureau's catalog and asks for it there.
    env.setenv("PROVLEDGER_PASSPHRASE", deployment.passphrase)
    code, out, err = run(capsys, "request", "--dataset", dataset_id, "--purpose", "门诊 study", "--fields", "visits",
                         "--uses", "1", "--days", "1", "--keystore", str(deployment.consumers[0].keystore),
                         "--api", bureau.url)
    assert code == 0, err
    assert found(rf"grant ({HASH}) requested", out)
    code, _, err = run(capsys, "catalog", "show", "0x" + "ab" * 32, "--api", bureau.url)
    assert code == 1 and "is in no department's catalog" in err and err.count("\n") == 1
    code, _, err = run(capsys, "catalog", "show", "census", "--api", bureau.url)
    assert_usage_error(code, err, "is not a dataset id")


@pytest.mark.timeout(120)
def test_a_wrong_passphrase_or_a_refused_input_exits_2(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    health = deployment.department("health-commission")
    env.setenv("PROVLEDGER_API", health.url)
    env.setenv("PROVLEDGER_PASSPHRASE", "not the passphrase")
    code, _, err = run(capsys, "request", "--dataset", "0x" + "ab" * 32, "--purpose", "p", "--fields", "1",
                       "--uses", "1", "--days", "1", "--keystore", str(deployment.consumers[0].keystore))
    assert_usage_error(code, err, "cannot open the keystore")
    code, _, err = run(capsys, "dataset", "register", str(write_people(tmp_path / "p.csv")), "--code", "Not A Code",
                       "--name", "N", "--category", "x", "--grade", "1", "--interval", "0",
                       "--user", health.username, "--password", health.password)
    assert_usage_error(code, err, "422 invalid_input")


@pytest.mark.timeout(300)
def test_the_demo_tells_every_step_and_exits_0(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--no-progress")
    assert code == 0, out + err
    titles = [line for line in out.splitlines() if line.startswith("== ")]
    for step in STEPS:
        assert any(step in title for title in titles), step
    assert "FAILED" not in out
    assert int(found(r"(\d+) items verified, 0 failed", out)) > 10
    assert "story complete: every check held" in out


@pytest.mark.timeout(300)
def test_review_reject_and_the_coordinators_quality_loop_from_the_command_line(
        deployment: LocalDeployment, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    health, bureau = deployment.department("health-commission"), deployment.department("stats-bureau")
    consumer = deployment.consumers[1]
    env.setenv("PROVLEDGER_API", health.url)
    env.setenv("PROVLEDGER_PASSPHRASE", deployment.passphrase)
    staff = ("--user", health.username, "--password", health.password)
    coordinator = ("--api", bureau.url, "--user", bureau.username, "--password", bureau.password)
    code, out, err = run(capsys, "dataset", "register", str(write_people(tmp_path / "p.csv")), "--code", "cli-review",
                         "--name", "门诊记录", "--category", "卫生", "--grade", "2", "--interval", "0",
                         "--field-class", "id_number=id_number", *staff)
    assert code == 0, err
    dataset_id = found(rf"dataset ({HASH}) registered", out)

    asked = ("request", "--dataset", dataset_id, "--fields", "visits", "--uses", "2", "--days", "3",
             "--keystore", str(consumer.keystore))
    code, _, err = run(capsys, *asked, "--purpose", "回访 13800138000")
    assert_usage_error(code, err, "purpose: holds a mobile number")
    code, out, err = run(capsys, *asked, "--purpose", "区县门诊量统计")
    assert code == 0, err
    grant = found(rf"grant ({HASH}) requested", out)

    item = in_queue(capsys, grant, *staff)
    assert (item["purpose"], item["dataset_name"], item["fields"], item["masked_fields"]) == (
        "区县门诊量统计", "门诊记录", ["visits"], ["id_number"])
    code, out, err = run(capsys, "review", *staff)
    assert code == 0 and "purpose   区县门诊量统计" in out and "terms     download, at most 2 uses, 3 days" in out, err
    code, out, err = run(capsys, "reject", grant, "--reason", "用途不明确", *staff)
    assert code == 0 and "rejected: confirmed in block" in out, err

    finding = "id_number:3,7:身份证号校验位错误"
    code, out, err = run(capsys, "quality", "open", dataset_id, "1", "--finding", finding, "--note", "请核实",
                         "--json", *coordinator)
    assert code == 0, err
    issue = json.loads(out)["issue_id"]

    def listed(where: tuple[str, ...], status: str) -> dict[str, object] | None:
        code, out, err = run(capsys, "quality", "list", "--json", *where)
        assert code == 0, err
        return next((i for i in json.loads(out) if i["issue_id"] == issue and i["status"] == status), None)

    returned = wait_for(lambda: listed(staff, "returned"), timeout=30, interval=0.5, what="the issue returned")
    assert returned["report"]["findings"] == [{"field": "id_number", "rows": [3, 7], "problem": "身份证号校验位错误"}]
    with Api(health.url, Progress(False)) as api:
        api.sign_in_staff(health.username, health.password)
        version = upload_version(api, dataset_id, write_people(tmp_path / "p2.csv", count=13))
        wait_anchored(api, dataset_id, version["content_root"])
    code, out, err = run(capsys, "quality", "repair", issue, "--version", "2", "--note", "已更正", *staff)
    assert code == 0 and "repair confirmed in block" in out, err
    code, _, err = run(capsys, "quality", "close", issue, "--note", "ok", *staff)
    assert code == 1 and "403 forbidden" in err and "opened by" in err and err.count("\n") == 1
    wait_for(lambda: listed(coordinator, "repaired"), timeout=30, interval=0.5, what="the repair on the coordinator's node")
    code, out, err = run(capsys, "quality", "close", issue, "--note", "复核通过", *coordinator)
    assert code == 0 and "close confirmed in block" in out, err
    wait_for(lambda: listed(staff, "closed"), timeout=30, interval=0.5, what="the issue closed on the owner's node")
    code, out, err = run(capsys, "quality", "list", *staff)
    assert code == 0 and f"{issue}  closed" in out and "IssueClosed: 复核通过" in out, err
