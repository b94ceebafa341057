"""Attacks on query grants through the people's doors: the routes, the CLI and the dashboard.

A consumer reading another's queries (route and page) or running a query on another's grant
from the dashboard is refused; bounds naming an identifying field are refused by the CLI before
anything is signed, and, asked for straight on chain, give no query on that field at the node;
the dashboard's query form refuses a post from another site. Nothing refused spends ε.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from api.cli import main
from api.dashboard.session import COOKIE, form_token
from ledger import ids
from ledger.clients import Action, PrivacyTerms
from ledger.tx import write_keystore
from node.service import NodeService
from tests.adversarial.conftest import Site, approve, create_dataset
from tests.api.clients import bearer, relay, wait_until
from tests.utils.ledgers import Suite

ROLL = ("姓名,身份证号,区县,年龄\n" + "".join(f"李{i},11010119850101{i:04d},{'东城区' if i % 2 else '西城区'},{20 + i}\n"
                                          for i in range(40))).encode()
CLASSES = {"姓名": "name", "身份证号": "id_number"}
BY_DISTRICT = "SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县"
PASSPHRASE = "hostile query passphrase"


def _grant(site: Site, node: NodeService, suite: Suite, code: str, bounds: dict[str, list[int]]) -> str:
    """A query grant of the honest consumer on a roll of its own, asked for straight on chain
    (no CLI to check it) with ``bounds``, and approved."""
    dataset = create_dataset(site, node, code, content=ROLL, field_classes=CLASSES)
    consumer = suite.consumers[0]
    assert consumer.sender is not None
    key = hashlib.sha256(f"{code} {site.tag}".encode()).digest()
    terms = PrivacyTerms(2_000_000, 1_000_000, 5, json.dumps(bounds, ensure_ascii=False))
    call = consumer.grants.contract.functions.requestQueryAccess(
        key, (bytes.fromhex(dataset[2:]), "人口统计", b"\x00" * 32, [], Action.mask(Action.QUERY), 3600, 10),
        terms.as_tuple())
    assert relay(site.http, site.honest, consumer.sender.account, call)["status"] == "success"
    grant = "0x" + ids.grant_id(consumer.sender.address, key).hex()
    approve(site, grant)
    wait_until(lambda: any(g["grant_id"] == grant and g["status"] == "active"
                           for g in site.http.get("/me/grants", headers=bearer(site.honest)).json()))
    return grant


def _spent(site: Site, grant: str) -> tuple[str, str, int]:
    shown = site.http.get(f"/grants/{grant}/queries", headers=bearer(site.honest)).json()
    return shown["epsilon_spent"], shown["epsilon_queued"], len(shown["queries"])


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


def test_a_consumer_cannot_read_or_spend_another_consumers_query_grant(site: Site, node: NodeService,
                                                                      suite: Suite) -> None:
    grant = _grant(site, node, suite, "qp-other", {"年龄": [0, 120]})
    refused = site.http.get(f"/grants/{grant}/queries", headers=bearer(site.hostile))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert site.http.get(f"/grants/{grant}/queries").status_code == 401
    assert site.http.get(f"/grants/0x{'12' * 32}/queries", headers=bearer(site.auditor)).status_code == 404

    page = site.http.get("/dashboard/queries", headers=_cookie(site.hostile))
    assert page.status_code == 200 and grant not in page.text
    assert grant in site.http.get("/dashboard/queries", headers=_cookie(site.honest)).text
    run = site.http.post(f"/dashboard/queries/{grant}", headers={**_cookie(site.hostile), "Origin": site.url},
                         data={"form_token": form_token(site.hostile), "sql": BY_DISTRICT, "epsilon": "0.5"})
    assert run.status_code == 403 and 'id="query-error"' in run.text
    # Staff are no consumer: the page is not theirs.
    assert site.http.get("/dashboard/queries", headers=_cookie(site.staff)).status_code == 403
    assert _spent(site, grant) == ("0", "0", 0)


def test_the_query_form_refuses_a_post_from_another_site(site: Site, node: NodeService, suite: Suite) -> None:
    grant = _grant(site, node, suite, "qp-csrf", {"年龄": [0, 120]})
    path, fields = f"/dashboard/queries/{grant}", {"sql": BY_DISTRICT, "epsilon": "0.5"}
    token = {"form_token": form_token(site.honest)}
    for headers, data in (({"Origin": "http://evil.example"}, {**fields, **token}),
                          ({"Referer": "http://evil.example/page"}, {**fields, **token}),
                          ({}, {**fields, **token}),
                          ({"Origin": site.url}, fields),
                          ({"Origin": site.url}, {**fields, "form_token": form_token(site.hostile)})):
        sent = site.http.post(path, headers={**_cookie(site.honest), **headers}, data=data)
        assert sent.status_code == 403, (headers, sent.text)
    assert _spent(site, grant) == ("0", "0", 0)
    ran = site.http.post(path, headers={**_cookie(site.honest), "Origin": site.url}, data={**fields, **token})
    assert ran.status_code == 200 and 'id="released"' in ran.text


def test_bounds_on_an_identifying_field_are_refused_by_the_cli_and_useless_at_the_node(
        site: Site, node: NodeService, suite: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    dataset = create_dataset(site, node, "qp-bounds", content=ROLL, field_classes=CLASSES)
    consumer = suite.consumers[0]
    assert consumer.sender is not None
    keystore = write_keystore(consumer.sender.account, tmp_path / "c.json", PASSPHRASE)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", PASSPHRASE)
    nonce = node.ledger.w3.eth.get_transaction_count(consumer.sender.address)
    asked = ("request", "--dataset", dataset, "--purpose", "人口统计", "--uses", "5", "--days", "1", "--query",
             "--epsilon-budget", "2", "--epsilon-cap", "1", "--k", "5", "--api", site.url, "--keystore", str(keystore),
             "--no-progress")
    for fields, bound, says in (("", "身份证号=0:999999999999999999", "身份证号: it holds an ID number"),
                                ("", "姓名=0:1", "姓名: it holds a name"),
                                ("", "收入=0:1", "收入: dataset"),
                                ("区县", "年龄=0:120", "年龄: not among the fields asked for")):
        assert main([*asked, "--fields", fields, "--bounds", bound]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err
    assert node.ledger.w3.eth.get_transaction_count(consumer.sender.address) == nonce, "nothing was signed"

    # Asked for on chain without the CLI: the node still runs no aggregate of the ID number.
    grant = _grant(site, node, suite, "qp-bounds-chain", {"身份证号": [0, 999999999999999999], "年龄": [0, 120]})
    for sql in ("SELECT SUM(身份证号) FROM data", "SELECT AVG(\"身份证号\") AS a FROM data",
                "SELECT 区县, SUM(年龄) FROM data WHERE 身份证号 > 0 GROUP BY 区县"):
        refused = site.http.post(f"/grants/{grant}/queries", json={"sql": sql, "epsilon": "0.5"},
                                 headers=bearer(site.honest))
        assert refused.status_code == 422 and "身份证号" in refused.text, (sql, refused.text)
    assert _spent(site, grant) == ("0", "0", 0)
