"""Query grants as each role meets them, over real HTTP against a real chain with the node's
background work running: the consumer asks with ``provledger request --query``, the reviewer
reads the terms in words (API, ``provledger review``, the dashboard card), the consumer runs a
query from the dashboard's form and reads its grant, ε and queries (``GET /grants/{id}/queries``,
``provledger queries``, the dashboard page), with the SQL the node kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.cli import main
from api.dashboard.session import COOKIE, form_token
from ledger.tx import write_keystore
from node.service import NodeService
from tests.api.clients import bearer, publish, siwe_token, wait_for_write, wait_until
from tests.api.conftest import serve_node
from tests.api.test_queries_routes import Site as RoutesSite
from tests.utils.ledgers import Suite

PASSWORD = "query people reviewer password"
PASSPHRASE = "query people consumer passphrase"
HEADER = "姓名,身份证号,区县,年龄,补助金额"
DISTRICTS = {"东城区": 150, "西城区": 120, "朝阳区": 3}
ROWS = "".join(f"王{d}{i},11010119800101{i:04d},{d},{30 + i % 40},{100 * (i % 20)}\n"
               for d, n in DISTRICTS.items() for i in range(n))
CLASSES = {"姓名": "name", "身份证号": "id_number"}
WORDS = "query grant: ε budget 5, at most 1 per query, groups of at least 5, bounds 年龄 0–120, 补助金额 0–5000"
BY_DISTRICT = "SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县"
TERMS = ("--query", "--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "5",
         "--bounds", "年龄=0:120", "--bounds", "补助金额=0:5000")


@dataclass
class Site(RoutesSite):
    auditor: str
    wallet: tuple[str, ...]
    """The CLI's options for consumer 7: the node, its keystore."""


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chain_id = node.ledger.manifest.chain_id
    assert suite.consumers[0].sender is not None
    keystore = write_keystore(suite.consumers[0].sender.account, tmp_path_factory.mktemp("keys") / "c.json",
                              PASSPHRASE)
    with serve_node(node, {"reviewer.people": "admin"}, PASSWORD) as api:
        consumer, other, auditor = (siwe_token(api.http, suite.accounts[i], api.domain, chain_id) for i in (7, 8, 9))
        url = str(api.http.base_url).rstrip("/")
        yield Site(api.http, url, api.staff["reviewer.people"], consumer, other, auditor,
                   ("--api", url, "--keystore", str(keystore), "--no-progress"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


def test_a_query_grant_asked_reviewed_and_used_without_code(
        site: Site, node: NodeService, module_database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", PASSPHRASE)
    dataset = publish(site.http, site.staff, node.ledger, f"relief-{tag}", HEADER, ROWS, field_classes=CLASSES,
                      name="低保对象名册")

    # Asking: the consumer's CLI signs requestQueryAccess, the node relays it.
    code, out, err = run(capsys, "request", "--dataset", dataset, "--purpose", "2026年社会救助统计",
                         "--fields", "区县,年龄,补助金额", "--uses", "10", "--days", "30", *TERMS, *site.wallet, "--json")
    assert code == 0, err
    asked = json.loads(out)
    grant = asked["grant_id"]
    assert asked["query"] is True

    # Reviewing: the terms in words, in the API, the CLI and the dashboard card.
    item = wait_until(lambda: next((q for q in site.http.get("/review/queue", headers=bearer(site.staff)).json()
                                    if q["grant_id"] == grant), None))
    assert item["query_terms"]["words"] == WORDS
    assert (item["query_terms"]["epsilon_budget"], item["query_terms"]["epsilon_cap"]) == ("5", "1")
    assert item["dataset_name"] == "低保对象名册" and item["purpose"] == "2026年社会救助统计"
    code, out, err = run(capsys, "review", "--api", site.url, "--user", "reviewer.people", "--password", PASSWORD,
                         "--no-progress")
    assert code == 0, err
    assert f"  privacy   {WORDS}" in out
    card = site.http.get("/dashboard/review", headers=cookie(site.staff))
    assert card.status_code == 200 and WORDS in card.text

    approved = site.http.post(f"/grants/{grant}/approve", json={"reason": "统计用途"}, headers=bearer(site.staff))
    assert wait_for_write(site.http, site.staff, approved.json()["id"])["status"] == "confirmed"
    wait_until(lambda: any(g["grant_id"] == grant and g["status"] == "active"
                           for g in site.http.get("/me/grants", headers=bearer(site.consumer)).json()))

    # Using: a query run from the dashboard's form, through the node's route.
    ran = site.http.post(f"/dashboard/queries/{grant}", headers={**cookie(site.consumer), "Origin": site.url},
                         data={"form_token": form_token(site.consumer), "sql": BY_DISTRICT, "epsilon": "1"})
    assert ran.status_code == 200, ran.text
    assert 'id="released"' in ran.text and "东城区" in ran.text and "西城区" in ran.text
    assert '<dd class="threshold">groups whose noisy row count reached 15 ' in ran.text
    code, out, err = run(capsys, "query", grant, "SELECT 区县, SUM(补助金额) AS s FROM data GROUP BY 区县",
                         "--epsilon", "0.5", *site.wallet, "--json")
    assert code == 0, err
    second = json.loads(out)
    assert wait_for_write(site.http, site.staff, second["write"]["id"])["status"] == "confirmed"

    def both_indexed() -> dict[str, object] | None:
        found: dict[str, object] = site.http.get(f"/grants/{grant}/queries", headers=bearer(site.consumer)).json()
        return found if len(found["queries"]) == 2 else None  # type: ignore[arg-type]

    shown = wait_until(both_indexed)
    assert (shown["dataset_name"], shown["purpose"], shown["fields"]) == ("低保对象名册", "2026年社会救助统计",
                                                                         ["区县", "年龄", "补助金额"])
    assert (shown["epsilon_spent"], shown["epsilon_queued"], shown["epsilon_left"]) == ("1.5", "0", "3.5")
    assert shown["terms"]["words"] == WORDS
    assert [(q["sequence"], q["epsilon"]) for q in shown["queries"]] == [(1, "1"), (2, "0.5")]
    assert shown["queries"][1]["sql"] == second["normalised_sql"]
    assert shown["queries"][1]["query_hash"] == second["query_hash"]
    assert shown["queries"][0]["sql"] is not None and "COUNT(*)" in shown["queries"][0]["sql"]
    for reader in (site.staff, site.auditor):
        assert site.http.get(f"/grants/{grant}/queries", headers=bearer(reader)).json() == shown

    code, out, err = run(capsys, "grants", *site.wallet)
    assert code == 0, err
    assert f"{grant}  active" in out and "query grant, ε budget 5 (provledger queries GRANT)" in out
    assert "  query, in the clear: " in out  # the grant's actions by name, not its bitmask
    code, out, err = run(capsys, "queries", grant, *site.wallet)
    assert code == 0, err
    assert "ε         1.5 of 5 spent, 0 queued, 3.5 left; 2 of 10 uses" in out
    assert second["normalised_sql"] in out and f"  terms     {WORDS}" in out
    code, staff_out, err = run(capsys, "queries", grant, "--api", site.url, "--user", "reviewer.people",
                               "--password", PASSWORD, "--no-progress")
    assert code == 0 and staff_out == out, err

    listed = site.http.get("/dashboard/queries", headers=cookie(site.consumer))
    assert listed.status_code == 200
    card_html = listed.text.split(f'data-grant="{grant}"', 1)[1].split("</article>", 1)[0]
    for shown_text in ("低保对象名册", "2026年社会救助统计", WORDS, "ε 1.5 of 5 spent, 0 queued, 3.5 left",
                       "区县, 年龄, 补助金额", "at least 5 rows", "年龄 0–120, 补助金额 0–5000"):
        assert shown_text in card_html, shown_text
    assert second["normalised_sql"].replace('"', "&#34;") in card_html
    assert 'data-sequence="2"' in card_html


def test_a_refused_query_from_the_dashboard_shows_the_nodes_reason_and_spends_nothing(
        site: Site, node: NodeService, suite: Suite, module_database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", PASSPHRASE)
    dataset = publish(site.http, site.staff, node.ledger, f"relief-refused-{tag}", HEADER, ROWS,
                      field_classes=CLASSES, name="低保对象名册 二")
    code, out, err = run(capsys, "request", "--dataset", dataset, "--purpose", "统计", "--fields", "",
                         "--uses", "5", "--days", "1", *TERMS, *site.wallet, "--json")
    assert code == 0, err
    grant = json.loads(out)["grant_id"]
    wait_until(lambda: any(q["grant_id"] == grant for q in site.http.get(
        "/review/queue", headers=bearer(site.staff)).json()))
    approved = site.http.post(f"/grants/{grant}/approve", json={}, headers=bearer(site.staff))
    assert wait_for_write(site.http, site.staff, approved.json()["id"])["status"] == "confirmed"
    wait_until(lambda: any(g["grant_id"] == grant and g["status"] == "active"
                           for g in site.http.get("/me/grants", headers=bearer(site.consumer)).json()))

    form = {"form_token": form_token(site.consumer), "sql": "SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号",
            "epsilon": "0.5"}
    refused = site.http.post(f"/dashboard/queries/{grant}", headers={**cookie(site.consumer), "Origin": site.url},
                             data=form)
    assert refused.status_code == 422
    assert 'id="query-error"' in refused.text and "身份证号" in refused.text
    assert "SELECT 身份证号" in refused.text, "the SQL stays in the form to correct"
    over = site.http.post(f"/dashboard/queries/{grant}", headers={**cookie(site.consumer), "Origin": site.url},
                          data={**form, "sql": BY_DISTRICT, "epsilon": "1.5"})
    assert over.status_code == 422 and "cap of 1" in over.text
    shown = site.http.get(f"/grants/{grant}/queries", headers=bearer(site.consumer)).json()
    assert (shown["epsilon_spent"], shown["epsilon_queued"], shown["queries"]) == ("0", "0", [])


@pytest.mark.parametrize(("terms", "says"), [
    (("--epsilon-budget", "1", "--epsilon-cap", "2", "--k", "10"), "--epsilon-cap 2 is above --epsilon-budget 1"),
    (("--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "1"), "--k 1: groups of fewer than 2"),
    (("--epsilon-budget", "0.0000001", "--epsilon-cap", "1", "--k", "5"), "finer than one micro-ε"),
    (("--epsilon-budget", "-1", "--epsilon-cap", "1", "--k", "5"), "must be above zero"),
    (("--epsilon-budget", "nan", "--epsilon-cap", "1", "--k", "5"), "not a finite number"),
    (("--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "5", "--bounds", "年龄=120:0"), "low bound must be below"),
    (("--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "5", "--bounds", "年龄=0:inf"), "not a finite number"),
    (("--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "5", "--bounds", "年龄"), "is not FIELD=LOW:HIGH"),
    (("--epsilon-budget", "5", "--epsilon-cap", "1", "--k", "5", "--bounds", "年龄=0:1", "--bounds", "年龄=0:2"),
     "--bounds names 年龄 more than once"),
    (("--epsilon-budget", "5", "--k", "5"), "--query needs --epsilon-budget, --epsilon-cap and --k"),
])
def test_bad_query_terms_exit_2_with_one_line_before_anything_is_asked(
        terms: tuple[str, ...], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No node listens on port 9 and the keystore does not exist: reaching either would say so instead.
    code, _, err = run(capsys, "request", "--dataset", "0x" + "ab" * 32, "--purpose", "统计", "--fields", "区县",
                       "--uses", "1", "--days", "1", "--query", *terms, "--api", "http://127.0.0.1:9",
                       "--keystore", str(tmp_path / "none.json"))
    assert code == 2 and err.count("\n") == 1 and says in err, err


def test_query_terms_without_query_are_refused_not_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "request", "--dataset", "0x" + "ab" * 32, "--purpose", "统计", "--fields", "区县",
                       "--uses", "1", "--days", "1", "--k", "5", "--bounds", "年龄=0:1", "--api", "http://127.0.0.1:9",
                       "--keystore", str(tmp_path / "none.json"))
    assert code == 2 and "--k, --bounds go with --query" in err, err
