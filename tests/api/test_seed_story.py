"""The seed's story, told by its people through the `provledger` CLI against four named
departments, each node serving its own API: 民政局 registers a GBK file of 低保 (subsistence
allowance) recipients; a consumer sponsored by 市场监管局 asks for it with a purpose; the owner's
reviewer and the coordinator (大数据局) see purpose, names and fields in the clear before they
decide; deliveries come out in Chinese with personal fields masked; the coordinator opens a quality
issue on the owner's data, returned to 民政局, repaired by a new version and closed by the
coordinator; and the auditor's trace on *every* node shows all of it, as every node's catalog
lists every department's datasets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli import main
from api.local import LocalDeployment
from ledger.deploy import Manifest
from ledger.waiting import wait_for
from node.access.delivery.fingerprint import plain_masks
from node.departments import DepartmentPlan, DepartmentSpec
from tests.api.clients import bearer, siwe_token

pytestmark = pytest.mark.timeout(600)

DATA, MARKET = DepartmentSpec("big-data", "大数据局"), DepartmentSpec("market-regulation", "市场监管局")
CIVIL, POLICE = DepartmentSpec("civil-affairs", "民政局"), DepartmentSpec("public-security", "公安局")
PLAN = DepartmentPlan((DATA, MARKET, CIVIL, POLICE), DATA.code)
HEADER = ["姓名", "身份证号", "手机号", "住址", "区县"]
ROWS = [
    ["司马筠菊", "11010519491231002X", "13800138000", "北京市海淀区中关村大街1号", "海淀区"],
    ["张伟", "110101199003074573", "1390013900", "北京市朝阳区建国路88号", "朝阳区"],  # a phone one digit short
    ["欧阳娜娜", "440305198812120011", "13700137000", "深圳市南山区科技园南区", "南山区"],
]
PURPOSE = "市场主体登记核查：比对个体工商户经营者的住址与所在区县"


def gbk_csv(path: Path, rows: list[list[str]]) -> Path:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(text.getvalue().encode("gbk"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """``provledger ARGV --json``: its answer, after checking it exited 0."""
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, f"{argv}: exit {code}\n{out}{err}"
    return json.loads(out)


def until(what: str, probe: Any, timeout: float = 90.0) -> Any:
    return wait_for(lambda: probe() or None, timeout=timeout, what=what, interval=0.25)


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(departments=PLAN) as started:
        yield started


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, deployment: LocalDeployment) -> pytest.MonkeyPatch:
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", deployment.passphrase)
    return monkeypatch


def staff(deployment: LocalDeployment, code: str) -> tuple[str, ...]:
    department = deployment.department(code)
    return "--api", department.url, "--user", department.username, "--password", department.password


def test_the_seed_story_with_chinese_departments(deployment: LocalDeployment, env: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    consumer = next(c for c in deployment.consumers if c.sponsor == MARKET.code)
    auditor = deployment.auditor
    assert auditor is not None
    owner = deployment.department(CIVIL.code)

    # 数据确权: every department registers a dataset; 民政局's is a GBK file with Chinese headers.
    registered = run(capsys, "dataset", "register", str(gbk_csv(tmp_path / "dibao.csv", ROWS)), "--code", "dibao",
                     "--name", "低保人员名册", "--category", "民政", "--grade", "3", "--interval", "2592000",
                     "--field-class", "姓名=name", "--field-class", "身份证号=id_number",
                     "--field-class", "手机号=mobile", *staff(deployment, CIVIL.code))
    dataset = registered["dataset"]["dataset_id"]
    assert registered["version"]["encoding"] == "gbk" and registered["version"]["schema"] == HEADER
    # A file that cannot be read as text is refused at registration, before anything is recorded.
    broken = tmp_path / "broken.csv"
    broken.write_bytes("姓名,住址\n".encode("utf-8") + "张伟,北京市\n".encode("gbk") + bytes([0x81, 0x20, 0xff]))
    code = main(["dataset", "register", str(broken), "--code", "broken", "--name", "坏文件", "--category", "民政",
                 "--grade", "2", "--interval", "0", *staff(deployment, CIVIL.code)])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "broken.csv" in err, err
    others = {}
    for spec, name in ((DATA, "政务数据目录"), (MARKET, "市场主体名录"), (POLICE, "户籍人口统计")):
        source = tmp_path / f"{spec.code}.csv"
        source.write_text("区县,数量\n海淀区,3\n", encoding="utf-8")
        others[spec.code] = run(capsys, "dataset", "register", str(source), "--code", spec.code, "--name", name,
                                "--category", "统计", "--grade", "1", "--interval", "0", "--no-wait",
                                *staff(deployment, spec.code))["dataset"]["dataset_id"]

    # One catalog across departments: each node lists every department's datasets, by name.
    everyone = {dataset, *others.values()}
    for department in deployment.departments:
        listed = until(f"{department.code}'s catalog listing all four departments",
                       lambda: _listing(capsys, department.url, everyone))
        entry = next(e for e in listed if e["dataset_id"] == dataset)
        assert entry["department_name"] == "民政局" and entry["name"] == "低保人员名册"
        assert entry["fields"] == HEADER

    # 事前审核: the consumer asks with a purpose; both reviewers see purpose, names and fields.
    grant = run(capsys, "request", "--dataset", dataset, "--purpose", PURPOSE, "--fields", "住址,区县",
                "--uses", "5", "--days", "30", "--api", deployment.department(MARKET.code).url,
                "--keystore", str(consumer.keystore))["grant_id"]
    card = until("the request in 民政局's review queue", lambda: next(
        (q for q in run(capsys, "review", *staff(deployment, CIVIL.code)) if q["grant_id"] == grant), None))
    assert card["purpose"] == PURPOSE and card["dataset_name"] == "低保人员名册" and card["grade"] == 3
    assert card["fields"] == ["住址", "区县"] and sorted(card["masked_fields"]) == sorted(["姓名", "身份证号", "手机号"])
    assert card["max_uses"] == 5 and card["duration_days"] == 30
    assert card["sponsor"]["name"] == "市场监管局" and card["owner_department"]["name"] == "民政局"
    run(capsys, "approve", grant, "--reason", "符合数据共享协议第三条", *staff(deployment, CIVIL.code))

    card = until("the co-approval in 大数据局's review queue", lambda: next(
        (q for q in run(capsys, "review", *staff(deployment, DATA.code)) if q["grant_id"] == grant), None))
    assert card["purpose"] == PURPOSE and card["dataset_name"] == "低保人员名册" and card["fields"] == ["住址", "区县"]
    assert card["owner_decision"]["reason"] == "符合数据共享协议第三条"
    run(capsys, "approve", grant, "--co-approve", "--reason", "目的明确，范围最小", *staff(deployment, DATA.code))

    # Deliveries: Chinese text intact, the fields not granted masked, in UTF-8 or in GBK.
    for encoding, codec in (("utf-8", "utf-8"), ("source", "gbk")):
        out = tmp_path / f"delivery-{encoding}.csv"
        delivery = until("the grant active on 民政局's node", lambda: _use(
            capsys, grant, out, encoding, owner.url, consumer.keystore))
        assert delivery["encoding"] == codec
        rows = list(csv.reader(io.StringIO(plain_masks(out.read_bytes().decode(codec)))))
        assert rows[0] == HEADER and [r[3:] for r in rows[1:]] == [r[3:] for r in ROWS]
        assert rows[1][:3] == ["司马**", "110105********002X", "138****8000"]

    # The coordinator runs quality: an issue on 民政局's version, returned, repaired, closed.
    opened = run(capsys, "quality", "open", dataset, "1", "--finding", "手机号:2:号码少一位",
                 "--note", "请核对第2条记录的联系电话", *staff(deployment, DATA.code))
    issue = opened["issue_id"]
    seen = until("the issue returned to 民政局", lambda: next(
        (i for i in run(capsys, "quality", "list", *staff(deployment, CIVIL.code))
         if i["issue_id"] == issue and i["status"] == "returned"), None))
    assert "号码少一位" in json.dumps(seen["report"], ensure_ascii=False)
    fixed = [*ROWS[:1], [*ROWS[1][:2], "13900139000", *ROWS[1][3:]], *ROWS[2:]]
    version = run(capsys, "dataset", "version", dataset, str(gbk_csv(tmp_path / "dibao-v2.csv", fixed)),
                  *staff(deployment, CIVIL.code))
    assert version["number"] == 2 and version["encoding"] == "gbk"
    run(capsys, "quality", "repair", issue, "--version", "2", "--note", "已更正联系电话",
        *staff(deployment, CIVIL.code))
    # The coordinator finds the repair wanting and returns the issue; a second repair holds.
    run(capsys, "quality", "reopen", issue, "--note", "第3条记录的住址缺少门牌号", *staff(deployment, DATA.code))
    until("the issue returned to 民政局 again", lambda: next(
        (i for i in run(capsys, "quality", "list", *staff(deployment, CIVIL.code))
         if i["issue_id"] == issue and i["status"] == "returned"), None))
    again = [*fixed[:2], [*ROWS[2][:3], "深圳市南山区科技园南区8号", ROWS[2][4]]]
    assert run(capsys, "dataset", "version", dataset, str(gbk_csv(tmp_path / "dibao-v3.csv", again)),
               *staff(deployment, CIVIL.code))["number"] == 3
    run(capsys, "quality", "repair", issue, "--version", "3", "--note", "已补全门牌号", *staff(deployment, CIVIL.code))
    code = main(["quality", "close", issue, "--note", "自行关闭", *staff(deployment, CIVIL.code)])
    _, err = capsys.readouterr()
    assert code != 0 and err.strip(), "the owner closed the coordinator's issue"
    run(capsys, "quality", "close", issue, "--note", "复核通过", *staff(deployment, DATA.code))

    # 事后溯源: the auditor's trace on every node shows all of it, with the texts.
    chain_id = Manifest.load(deployment.manifest_path).chain_id
    expected = {"DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "RequestCoApproved",
                "GrantActivated", "UseRecorded", "IssueOpened", "IssueReturned", "IssueRepaired", "IssueReopened",
                "IssueClosed"}
    for department in deployment.departments:
        with httpx.Client(base_url=department.url, timeout=30) as http:
            token = siwe_token(http, auditor.account, department.url.removeprefix("http://"), chain_id)

            def names() -> set[str] | None:
                items = http.get(f"/audit/datasets/{dataset}/trace", params={"limit": 1000},
                                 headers=bearer(token)).json()["items"]
                return {i["name"] for i in items} if expected <= {i["name"] for i in items} else None

            until(f"the whole story in {department.code}'s trace", names, timeout=120)
            items = http.get(f"/audit/datasets/{dataset}/trace", params={"limit": 1000, "verify": "true"},
                             headers=bearer(token)).json()["items"]
            assert all(i["verification"]["ok"] for i in items), [i for i in items if not i["verification"]["ok"]]
            text = json.dumps(items, ensure_ascii=False)
            assert PURPOSE in text and "复核通过" in text and "号码少一位" in text and "缺少门牌号" in text, department.code


def _listing(capsys: pytest.CaptureFixture[str], url: str, wanted: set[str]) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = run(capsys, "catalog", "--api", url)
    return found if {e["dataset_id"] for e in found} >= wanted else None


def _use(capsys: pytest.CaptureFixture[str], grant: str, out: Path, encoding: str, url: str,
         keystore: Path) -> dict[str, Any] | None:
    code = main(["use", grant, "--out", str(out), "--encoding", encoding, "--api", url, "--keystore", str(keystore),
                 "--json"])
    stdout, _ = capsys.readouterr()
    return json.loads(stdout) if code == 0 else None
