"""A consumer probing a query grant leaves a trace: every refused query is recorded on chain.

The grant's consumer asks for rows, for an ID number, for text that is no SQL, for ε over the cap
and past the budget. Each is refused as before (422 or 409), and each ends on chain as a
``QueryRefused`` with its reason, spending neither ε nor quota; the auditor's verified trace,
PROV export, the grant's queries and the CLI show it with its reason in words and its SQL. No
one but the owner department can record a refusal, so no one can blame a consumer with made-up
attempts.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from eth_utils.crypto import keccak

from api.cli.audit import print_trace
from api.cli.queries import describe_grant
from api.dashboard.session import COOKIE
from ledger.clients import Action, PrivacyTerms, QueryRefusal, RefusedQueryInput
from ledger.errors import ContractError
from node.query import normalised_sql
from node.service import NodeService
from tests.adversarial.conftest import Site
from tests.adversarial.test_queries_people import BY_DISTRICT, _grant
from tests.api.clients import bearer, wait_until
from tests.utils.ledgers import Suite, approved_grant

ID_NUMBER = "110101198501010003"
PROBES: list[tuple[str, str, int, QueryRefusal]] = [
    ("SELECT 区县, 年龄 FROM data", "0.5", 422, QueryRefusal.SQL_NOT_ALLOWED),
    (f"SELECT COUNT(*) AS n FROM data WHERE 身份证号 = '{ID_NUMBER}'", "0.5", 422, QueryRefusal.IDENTIFYING_FIELD),
    ("SELECT 姓名 FROM data WHERE 年龄 = 33", "0.5", 422, QueryRefusal.IDENTIFYING_FIELD),
    ("SELEC 区县 FROM data ((", "0.5", 422, QueryRefusal.SQL_UNREADABLE),
    (BY_DISTRICT, "1.5", 422, QueryRefusal.EPSILON_OVER_CAP),
]
"""(SQL, ε, the status it is refused with, the reason recorded): the grant's cap is 1, its budget 2."""


def _queries(site: Site, grant: str, token: str) -> dict[str, Any]:
    shown = site.http.get(f"/grants/{grant}/queries", headers=bearer(token))
    assert shown.status_code == 200, shown.text
    found: dict[str, Any] = shown.json()
    return found


def test_each_refused_probe_is_on_chain_with_its_reason_and_in_the_verified_trace(
        site: Site, node: NodeService, suite: Suite) -> None:
    grant = _grant(site, node, suite, "qr-probe", {"年龄": [0, 120]})
    path, gid = f"/grants/{grant}/queries", bytes.fromhex(grant[2:])
    probes = list(PROBES)
    for sql, epsilon, status, _ in probes:
        refused = site.http.post(path, json={"sql": sql, "epsilon": epsilon}, headers=bearer(site.honest))
        assert refused.status_code == status, (sql, refused.text)
    for _ in range(2):  # the whole budget, spent
        assert site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "1"},
                              headers=bearer(site.honest)).status_code == 201
    past = site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.honest))
    assert past.status_code == 409, past.text
    probes.append((BY_DISTRICT, "0.5", 409, QueryRefusal.BUDGET_EXHAUSTED))

    def indexed() -> dict[str, Any] | None:
        found = _queries(site, grant, site.honest)
        return found if (len(found["refused"]), len(found["queries"])) == (len(probes), 2) else None

    shown = wait_until(indexed, timeout=120, what="the refusals indexed")
    # Watched while it happens (事中监控): one alert a reason, high for asking for rows or an ID field.
    reasons = {why for *_, why in probes}

    def alerted() -> dict[QueryRefusal, str] | None:
        found = {why: a["severity"] for a in site.http.get("/audit/alerts", headers=bearer(site.auditor)).json()
                 if a["kind"] == "refused_query" and a["grant_id"] == grant
                 for why in reasons if a["message"].split(": ", 1)[-1].startswith(why.words)}
        return found if found.keys() == reasons else None

    assert wait_until(alerted, timeout=120, what="the refusals alerted") == {
        why: "high" if why in (QueryRefusal.SQL_NOT_ALLOWED, QueryRefusal.IDENTIFYING_FIELD) else "warning"
        for why in reasons}
    expected = [(why.words, sql if why is QueryRefusal.SQL_UNREADABLE else normalised_sql(sql))
                for sql, _, _, why in probes]
    assert [(r["reason"], r["sql"]) for r in shown["refused"]] == expected
    for refused, (sql, _, _, why) in zip(shown["refused"], probes):
        text = sql if why is QueryRefusal.SQL_UNREADABLE else normalised_sql(sql)
        assert text is not None and refused["query_hash"] == "0x" + keccak(text.encode()).hex()
    # Nothing refused spent anything: only the two released queries, on chain and as the node says.
    assert node.ledger.usage.epsilon_spent(gid) == 2_000_000 and node.ledger.usage.uses_of(gid) == 2
    assert (shown["epsilon_spent"], shown["uses"]) == ("2", 2)
    page = site.http.get("/dashboard/queries", headers={"Cookie": f"{COOKIE}={site.honest}"})
    assert page.status_code == 200 and page.text.count('<tr class="refused"') == len(probes)
    assert "SQL reading an identifying field" in page.text and ID_NUMBER in page.text
    lines = "\n".join(describe_grant(shown))
    assert f"refused  block {shown['refused'][1]['block_number']}  SQL reading an identifying field" in lines
    assert ID_NUMBER in lines

    dataset = shown["dataset_id"]
    trace = site.http.get(f"/audit/datasets/{dataset}/trace", params={"verify": "true", "limit": 1000},
                          headers=bearer(site.auditor))
    assert trace.status_code == 200, trace.text
    items = trace.json()["items"]
    attempts = [i for i in items if i["name"] == "QueryRefused"]
    assert [(int(i["args"]["reason"]), i["texts"]["reason"], i["texts"]["queryHash"]) for i in attempts] == [
        (why, reason, text) for (_, _, _, why), (reason, text) in zip(probes, expected)]
    assert {(i["grant_id"], i["consumer"], i["args"]["consumer"]) for i in attempts} == {
        (grant, suite.consumers[0].sender.address, suite.consumers[0].sender.address)}  # type: ignore[union-attr]
    assert all(i["verification"]["ok"] for i in items) and trace.json()["complete"]["ok"], trace.text
    timeline = site.http.get(f"/dashboard/datasets/{dataset}/trace", headers={"Cookie": f"{COOKIE}={site.auditor}"})
    assert timeline.status_code == 200 and timeline.text.count("SQL reading an identifying field") == 2, timeline.text
    assert ID_NUMBER in timeline.text and "Query refused" in timeline.text
    printed = io.StringIO()
    assert print_trace(items, printed) == (len(items), 0)
    assert f"refused: SQL reading an identifying field; {expected[1][1]}" in printed.getvalue()
    mine = site.http.get(f"/audit/consumers/{attempts[0]['consumer']}/trace", params={"verify": "true", "limit": 1000},
                         headers=bearer(site.auditor))
    assert [i["args"]["queryHash"] for i in mine.json()["items"] if i["name"] == "QueryRefused"
            and i["grant_id"] == grant] == \
        [i["args"]["queryHash"] for i in attempts]
    assert mine.json()["complete"]["ok"], mine.text

    prov = site.http.get(f"/audit/datasets/{dataset}/prov", headers=bearer(site.auditor))
    assert prov.status_code == 200
    assert prov.text.count("SQL reading an identifying field") == 2 and "provledger:sql" in prov.text
    assert ID_NUMBER in prov.text  # the SQL tried, as this node kept it: shown to the auditor here only
    # The consumer's other grants and other consumers see none of it.
    assert site.http.get(path, headers=bearer(site.hostile)).status_code == 403


def test_only_the_owner_department_records_refusals_and_they_spend_nothing(suite: Suite) -> None:
    """A department or consumer making up attempts to blame a consumer is refused on chain."""
    owner, consumer = suite.departments[0], suite.consumers[0]
    _, grant = approved_grant(owner, consumer, "refusals by others", Action.QUERY,
                              terms=PrivacyTerms(1_000_000, 500_000, 5, '{"年龄":[0,120]}'))
    made_up = [RefusedQueryInput(grant, keccak(b"SELECT * FROM data"), QueryRefusal.IDENTIFYING_FIELD)]
    for other in (suite.departments[1], consumer, suite.coordinator):
        with pytest.raises(ContractError) as refused:
            other.usage.record_refused_queries(keccak(b"blame %s" % other.sender.address.encode()), made_up)  # type: ignore[union-attr]
        assert refused.value.name == "UsageCallerNotAllowed"
    receipt = owner.usage.record_refused_queries(keccak(b"the owner's own"), made_up * 3)
    assert receipt["status"] == 1 and owner.usage.uses_of(grant) == 0 and owner.usage.epsilon_spent(grant) == 0
