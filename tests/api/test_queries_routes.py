"""``POST /grants/{id}/queries`` and ``provledger query`` over real HTTP against a real chain, with
the node's background work running: a query grant requested through the relay, approved, and
queried; the release checked against the hashes on chain; each refusal with its status."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_utils.crypto import keccak
from sqlalchemy import select

from api.cli import main
from ledger import ids
from ledger.clients import Action
from ledger.tx import write_keystore
from node.models import DatasetVersion, Grant
from node.query import epsilon_text
from node.service import NodeService
from tests.api.clients import bearer, publish, relay, siwe_token, wait_for_write, wait_until
from tests.api.conftest import serve_node
from tests.utils.civil import BOUNDS as CIVIL_BOUNDS
from tests.utils.civil import CLASSES as CIVIL_CLASSES
from tests.utils.civil import HEADER, SMALL_DISTRICT, civil_rows, csv_bytes
from tests.utils.ledgers import Suite

PASSWORD = "query reviewer password"
PASSPHRASE = "query consumer passphrase"
DISTRICTS = {"东城区": 150, "西城区": 120, "朝阳区": 3}
ROWS = "".join(f"张{d}{i},11010119900101{i:04d},{d},{20 + i % 50}\n" for d, n in DISTRICTS.items() for i in range(n))
TERMS = (1_500_000, 1_000_000, 5, json.dumps({"年龄": [0, 120]}, ensure_ascii=False))
BY_DISTRICT = "SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县"


@dataclass
class Site:
    http: httpx.Client
    url: str
    staff: str
    consumer: str
    other: str


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite) -> Iterator[Site]:
    chain_id = node.ledger.manifest.chain_id
    with serve_node(node, {"reviewer.query": "admin"}, PASSWORD) as api:
        consumer, other = (siwe_token(api.http, suite.accounts[i], api.domain, chain_id) for i in (7, 8))
        yield Site(api.http, str(api.http.base_url).rstrip("/"), api.staff["reviewer.query"], consumer, other)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code, response.text
    return error


def _query_grant(site: Site, node: NodeService, suite: Suite, tag: str, dataset: str | None = None,
                 terms: tuple[int, int, int, str] = TERMS) -> str:
    """A civil-affairs roll published by staff (unless ``dataset`` is given), a query grant on it
    requested by consumer 7 through the relay with ``terms``, approved and indexed with them."""
    dataset = dataset or publish(site.http, site.staff, node.ledger, f"roll-{tag}", "姓名,身份证号,区县,年龄", ROWS,
                                 field_classes={"姓名": "name", "身份证号": "id_number"})
    consumer = suite.consumers[0]
    assert consumer.sender is not None
    key = hashlib.sha256(f"query grant {tag}".encode()).digest()
    call = consumer.grants.contract.functions.requestQueryAccess(
        key, (bytes.fromhex(dataset[2:]), f"人口统计 {tag}", b"\x00" * 32, [], Action.mask(Action.QUERY), 3600, 10), terms)
    assert relay(site.http, site.consumer, consumer.sender.account, call)["status"] == "success"
    grant = "0x" + ids.grant_id(consumer.sender.address, key).hex()
    # Actions by name beside the chain's bitmask, for clients that show them.
    wait_until(lambda: any(q["grant_id"] == grant and q["action_names"] == ["query"] for q in site.http.get(
        "/review/queue", headers=bearer(site.staff)).json()))
    approved = site.http.post(f"/grants/{grant}/approve", json={"reason": "统计用途", "price_per_use": 0},
                              headers=bearer(site.staff))
    assert wait_for_write(site.http, site.staff, approved.json()["id"])["status"] == "confirmed"
    # ε as decimal text, as every route speaks it, not the micro-ε the chain keeps.
    wait_until(lambda: any(g["grant_id"] == grant and g["status"] == "active"
                           and (g["epsilon_budget"], g["epsilon_cap"]) == (epsilon_text(terms[0]), epsilon_text(terms[1]))
                           and g["action_names"] == ["query"]
                           for g in site.http.get("/me/grants", headers=bearer(site.consumer)).json()))
    return grant


def test_a_consumer_queries_a_grant_and_each_refusal_has_its_status(site: Site, node: NodeService, suite: Suite,
                                                                    module_database_url: str) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    grant = _query_grant(site, node, suite, f"route-{tag}")
    path = f"/grants/{grant}/queries"

    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}), 401, "unauthenticated")
    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.staff)), 403, "forbidden")
    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.other)), 403, "forbidden")
    refused = _error(site.http.post(path, json={"sql": "SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号",
                                                "epsilon": "0.5"}, headers=bearer(site.consumer)), 422, "invalid_input")
    assert "身份证号" in json.dumps(refused, ensure_ascii=False)
    for epsilon in ("1.5", "0", "0.0000001", "abc"):
        _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": epsilon}, headers=bearer(site.consumer)),
               422, "invalid_input")

    made = site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": 1}, headers=bearer(site.consumer))
    assert made.status_code == 201, made.text
    released = made.json()
    # τ = 15 at ε 1 (k = 5): 朝阳区's 3 people are never released; 东城区's 150 and 西城区's 120 always
    # are (τ is 34 at the smallest ε asked here, 0.4).
    assert {row[0] for row in released["rows"]} == {"东城区", "西城区"} and released["release_threshold"] == 15
    assert released["epsilon"] == "1" and released["rows_scanned"] == sum(DISTRICTS.values())
    assert "0x" + keccak(released["result_json"].encode()).hex() == released["result_hash"]
    assert "0x" + keccak(released["normalised_sql"].encode()).hex() == released["query_hash"]
    assert released["write"]["kind"] == "record_queries"
    assert wait_for_write(site.http, site.staff, released["write"]["id"])["status"] == "confirmed"
    assert node.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 1_000_000

    # 0.5 of the budget of 1.5 is left: 0.6 is refused as a conflict with what was spent.
    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.6"}, headers=bearer(site.consumer)), 409, "conflict")

    # The query is in the dataset's trace, verified against the chain, with its SQL as the node ran it,
    # and in its PROV export as a release generated from the dataset under the grant.
    dataset = node.ledger.grants.grant(bytes.fromhex(grant[2:])).dataset_id
    trace = site.http.get(f"/audit/datasets/0x{dataset.hex()}/trace", params={"verify": "true", "limit": 1000},
                          headers=bearer(site.staff))
    assert trace.status_code == 200, trace.text
    [recorded] = [i for i in trace.json()["items"] if i["name"] == "QueryRecorded"]
    assert recorded["args"]["queryHash"] == released["query_hash"]
    assert recorded["args"]["resultHash"] == released["result_hash"]
    assert int(recorded["args"]["epsilon"]) == 1_000_000 and recorded["grant_id"] == grant
    assert recorded["texts"]["queryHash"] == released["normalised_sql"]
    assert all(i["verification"]["ok"] for i in trace.json()["items"]) and trace.json()["complete"]["ok"], \
        trace.text
    prov = site.http.get(f"/audit/datasets/0x{dataset.hex()}/prov", headers=bearer(site.staff))
    assert prov.status_code == 200 and "provledger:QueryResult" in prov.text


def test_provledger_query_prints_the_release_checked_against_the_chain(
        site: Site, node: NodeService, suite: Suite, module_database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    grant = _query_grant(site, node, suite, f"cli-{tag}")
    assert suite.consumers[0].sender is not None
    keystore = write_keystore(suite.consumers[0].sender.account, tmp_path / "consumer.json", PASSPHRASE)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", PASSPHRASE)
    wallet = ("--api", site.url, "--keystore", str(keystore), "--no-progress")

    assert main(["query", grant, BY_DISTRICT, "--epsilon", "0.5", *wallet, "--json"]) == 0
    released = json.loads(capsys.readouterr().out)
    assert released["epsilon"] == "0.5" and {row[0] for row in released["rows"]} == {"东城区", "西城区"}

    assert main(["query", grant, BY_DISTRICT, "--epsilon", "0.4", *wallet]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "区县\tn" and "recorded on chain as query 0x" in err

    # Refused before asking (exit 2), and by the node: an identifying field (422, exit 2).
    assert main(["query", grant, BY_DISTRICT, "--epsilon", "0", *wallet]) == 2
    assert "above zero" in capsys.readouterr().err
    assert main(["query", grant, "SELECT 身份证号 FROM data", "--epsilon", "0.1", *wallet]) == 2
    assert "身份证号" in capsys.readouterr().err


def test_a_tampered_source_is_refused_before_the_query_runs(site: Site, node: NodeService, suite: Suite,
                                                             module_database_url: str) -> None:
    """Its data loaded in the engine already, the stored version edited on disk: the next query is
    refused (409 source_tampered) before it runs, and spends neither ε nor a use."""
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    grant = _query_grant(site, node, suite, f"tamper-{tag}")
    path = f"/grants/{grant}/queries"
    made = site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.consumer))
    assert made.status_code == 201, made.text
    assert wait_for_write(site.http, site.staff, made.json()["write"]["id"])["status"] == "confirmed"
    with node.sessions() as session:
        source = Path(session.scalars(select(DatasetVersion.source_path).join(
            Grant, Grant.dataset_id == DatasetVersion.dataset_id).where(Grant.grant_id == grant)).one())
    stored = bytearray(source.read_bytes())
    assert "东城区".encode() not in stored  # kept encrypted: the edit is an intruder's flipped byte
    stored[len(stored) // 2] ^= 0x01
    source.write_bytes(bytes(stored))
    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.consumer)),
           409, "source_tampered")
    assert node.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 500_000
    assert node.ledger.usage.uses_of(bytes.fromhex(grant[2:])) == 1


def test_the_civil_affairs_roll_of_10000_rows_in_gbk_answers_in_groups_of_at_least_k(
        site: Site, node: NodeService, suite: Suite, module_database_url: str) -> None:
    """The issue's real data: a 10,000-row 民政 subsidy roll, kept as a GBK file, queried by district."""
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    rows = civil_rows(10_000)
    created = site.http.post("/datasets", headers=bearer(site.staff), json={
        "code": f"civil-{tag}", "name": "低保对象名册", "category": "民政", "grade": 2, "update_interval": 86400,
        "field_classes": {name: cls.value for name, cls in CIVIL_CLASSES.items() if cls.value != "plain"}})
    assert created.status_code == 201, created.text
    dataset = created.json()["dataset_id"]
    uploaded = site.http.put(f"/datasets/{dataset}/versions", params={"format": "csv", "encoding": "gbk"},
                             content=csv_bytes(rows, "gbk"), headers={**bearer(site.staff), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset[2:]), root))
    bounds = json.dumps({name: list(pair) for name, pair in CIVIL_BOUNDS.items()}, ensure_ascii=False)
    grant = _query_grant(site, node, suite, f"civil-{tag}", dataset, (3_000_000, 1_000_000, 10, bounds))
    path = f"/grants/{grant}/queries"

    def ask(sql: str, epsilon: str = "0.5") -> httpx.Response:
        return site.http.post(path, json={"sql": sql, "epsilon": epsilon}, headers=bearer(site.consumer))

    truth = Counter(row[HEADER.index("区县")] for row in rows)
    made = ask("SELECT 区县, COUNT(*) AS n, AVG(补助金额) AS mean FROM data GROUP BY 区县")
    assert made.status_code == 201, made.text
    released = {row[0]: row for row in made.json()["rows"]}
    assert set(released) == {d for d, n in truth.items() if n >= 10} and SMALL_DISTRICT[0] not in released
    assert made.json()["release_threshold"] == 80 and made.json()["rows_scanned"] == 10_000
    for district, row in released.items():
        # ε 0.5 over three measures: Laplace of scale 6 on a count, past 120 once in e**20 draws
        assert abs(row[1] - truth[district]) < 120, (district, row, truth[district])
        assert 0 <= row[2] <= 5000
    # A WHERE that leaves one small district: fewer than k rows, nothing released about them.
    alone = ask(f"SELECT COUNT(*) FROM data WHERE 区县 = '{SMALL_DISTRICT[0]}'")
    assert alone.status_code == 201 and alone.json()["rows"] == []
    # Row-level output, an ID number anywhere, a person singled out: refused, naming what.
    for sql, named in (("SELECT * FROM data", "*"), ("SELECT 身份证号, 补助金额 FROM data", "身份证号"),
                       ("SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号", "身份证号"),
                       (f"SELECT COUNT(*) FROM data WHERE 身份证号 = '{rows[0][2]}'", "身份证号"),
                       (f"SELECT SUM(补助金额) FROM data WHERE 姓名 = '{rows[0][1]}'", "姓名")):
        refused = _error(ask(sql), 422, "invalid_input")
        assert named in json.dumps(refused, ensure_ascii=False), (sql, refused)
    # Two queries of 0.5 spent 1 of 3; the third of 1 and a fourth of 1 fit, a fifth does not.
    assert ask("SELECT 补助类型, COUNT(*) FROM data GROUP BY 补助类型", "1").status_code == 201
    assert ask("SELECT 区县, SUM(补助金额) FROM data GROUP BY 区县", "1").status_code == 201
    _error(ask("SELECT COUNT(*) FROM data", "0.1"), 409, "conflict")
