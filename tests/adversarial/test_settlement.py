"""A hostile department bills a consumer: the consumer's check of each statement refuses it,
over the node's HTTP API, through the CLI and in the library, naming what is wrong, and
nothing honest is lost: the uses stay on chain, an earlier statement still settles, and an
honest statement after the refusal checks and settles.

The honest department is the statistics bureau, whose node serves the API and sponsors the
consumer; the hostile one is the health commission, which bills with its own key on chain.
The consumer asks its sponsor's node, not the billing one, to check: the check reads only the
chain. Both SQL backends share one chain, so every statement covers a period of its own.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils.abi import event_abi_to_log_topic

from api.cli import main
from ledger.clients import Action, Rights, Use
from ledger.deploy import Ledger, department_id
from ledger.events import fetch_events
from ledger.tx import write_keystore
from node.errors import StatementRefused
from node.service import NodeService
from node.access.settlement import acknowledge_as_consumer, chain_terms, statement_id
from tests.api.clients import bearer, relay, request_access, wait_for_write, wait_until
from tests.adversarial.conftest import Site
from tests.api.conftest import module_database_url, node  # noqa: F401  (fixtures)
from tests.utils.ledgers import DEPARTMENTS, Suite, head_time, next_second

HONEST, HOSTILE = DEPARTMENTS[0], DEPARTMENTS[1]
PASSPHRASE = "settlement consumer passphrase"
CSV = "name,phone,visits\n" + "".join(f"Person {i},1380013{i:04d},{i % 5}\n" for i in range(20))


# ---------------------------------------------------------------- the hostile department, on chain


def hostile_grant(site: Site, suite: Suite, code: str, price: int) -> tuple[str, str]:
    """A dataset of the health commission and the consumer's grant on it, approved at ``price``."""
    hostile = suite.departments[1]
    key = hashlib.sha256(f"{code} {site.tag}".encode()).digest()
    receipt = hostile.registry.register_dataset(key, metadata="{}", category=b"\x02" * 32, grade=1,
                                                update_interval=0, rights=Rights(department_id(HOSTILE)))
    # The id as the chain holds it, whether it is the key given or one derived from it.
    registered = [e for e in map(hostile.events.decode, receipt["logs"]) if e and e.name == "DatasetRegistered"]
    dataset = "0x" + bytes(registered[0].args["datasetId"]).hex()
    grant = request_access(site.http, site.honest, suite.consumers[0], dataset, f"{code} {site.tag}")
    hostile.grants.approve(bytes.fromhex(grant[2:]), price_per_use=price)
    return dataset, grant


def record(suite: Suite, grant: str, count: int) -> None:
    """``count`` downloads of ``grant`` recorded by the health commission, in one transaction."""
    suite.departments[1].usage.record_uses(secrets.token_bytes(32), [
        Use(bytes.fromhex(grant[2:]), Action.DOWNLOAD, secrets.token_bytes(32)) for _ in range(count)])


def line(grant: str, dataset: str, price: int, first: int, last: int) -> dict[str, Any]:
    uses = last - first + 1
    return {"grant_id": grant, "dataset_id": dataset, "uses": uses, "price_per_use": str(price),
            "amount": str(uses * price), "first_sequence": first, "last_sequence": last}


def issue(suite: Suite, start: int, end: int, lines: list[dict[str, Any]], *, key: str | None = None) -> dict[str, Any]:
    """A statement of the health commission to the consumer, acknowledged on chain by the
    department (which fixes its terms); ``key`` picks an id of the department's own choosing."""
    consumer = suite.accounts[7].address
    sid = ("0x" + hashlib.sha256(key.encode()).hexdigest()) if key else statement_id(HOSTILE, consumer, start, end)
    body = {"statement_id": sid, "owner_department": HOSTILE, "consumer": consumer, "period_start": start,
            "period_end": end, "lines": lines, "amount": str(sum(int(li["amount"]) for li in lines))}
    suite.departments[1].usage.acknowledge_statement(chain_terms(body))
    return body


# ---------------------------------------------------------------- the consumer


def sides(ledger: Ledger, body: dict[str, Any]) -> set[str]:
    """Who acknowledged the statement on chain ("owner", "consumer"), read from its events."""
    terms = chain_terms(body)
    abi = next(i for i in ledger.usage.contract.abi if i.get("name") == "StatementAcknowledged")
    topic = "0x" + event_abi_to_log_topic(abi).hex()  # type: ignore[arg-type]
    topics: list[Any] = [topic, "0x" + terms.statement_id.hex(), "0x" + terms.owner_department.hex()]
    events = fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, ledger.w3.eth.block_number,
                          topics=topics)
    return {"consumer" if e.args["party"] == terms.consumer else "owner" for e in events}


def check(site: Site, body: dict[str, Any]) -> httpx.Response:
    return site.http.post("/statements/check", json={"body": body}, headers=bearer(site.honest))


def assert_refused(site: Site, suite: Suite, body: dict[str, Any], *saying: str) -> None:
    """Refused over HTTP (a 422 naming each problem) and by the library (nothing sent), and the
    consumer's acknowledgement is not on chain."""
    response = check(site, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "statement_refused" and error["statement_id"] == body["statement_id"], error
    for text in saying:
        assert any(text in problem for problem in error["problems"]), (text, error["problems"])
        assert text in error["message"]
    with pytest.raises(StatementRefused) as refused:
        acknowledge_as_consumer(suite.consumers[0], body)
    assert refused.value.problems == error["problems"]
    assert sides(suite.consumers[0], body) == {"owner"}


def settle(site: Site, suite: Suite, body: dict[str, Any]) -> None:
    """The consumer has the statement checked, then acknowledges it with its own key: settled."""
    checked = check(site, body)
    assert checked.status_code == 200, checked.text
    assert checked.json()["amount"] == body["amount"] and checked.json()["lines"] == len(body["lines"])
    done = relay(site.http, site.honest, suite.accounts[7],
                 suite.consumers[0].usage.contract.functions.acknowledgeStatement(chain_terms(body).as_tuple()))
    assert done["status"] == "success", done
    assert sides(suite.consumers[0], body) == {"owner", "consumer"}


# ---------------------------------------------------------------- the attacks


@pytest.mark.parametrize("repeat", ["copied", "respelled", "split"])
def test_a_statement_with_a_repeated_line_is_refused_by_the_consumer(
        site: Site, suite: Suite, repeat: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, grant = hostile_grant(site, suite, f"repeat-{repeat}", price=3)
    start = next_second(suite.coordinator.w3)
    record(suite, grant, 3)
    end = head_time(suite.coordinator.w3) + 1
    honest = line(grant, dataset, 3, 1, 3)
    lines = {"copied": [honest, honest],
             "respelled": [honest, {**honest, "grant_id": "0x" + grant[2:].upper()}],
             "split": [line(grant, dataset, 3, 1, 2), line(grant, dataset, 3, 2, 3)]}[repeat]
    twice = "2..2" if repeat == "split" else "1..3"
    billed = issue(suite, start, end, lines)
    assert int(billed["amount"]) > 9
    assert_refused(site, suite, billed, f"grant {grant} is billed on lines 1, 2, its uses {twice} twice")

    # The consumer's CLI refuses it too: exit status 2 and one line.
    keystore = write_keystore(suite.accounts[7], tmp_path / "consumer.json", PASSPHRASE)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", PASSPHRASE)
    sent = tmp_path / "statement.json"
    sent.write_text(json.dumps({"body": billed}))
    cli = ["--api", str(site.http.base_url).rstrip("/"), "--keystore", str(keystore), "--no-progress"]
    code = main(["statement", "acknowledge", str(sent), *cli])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert "statement_refused" in err and f"billed on lines 1, 2, its uses {twice} twice" in err
    assert sides(suite.consumers[0], billed) == {"owner"}

    # Nothing honest lost: the uses stay on chain, and the next period's honest statement,
    # checked and acknowledged through the CLI, settles.
    assert suite.consumers[0].usage.uses_of(bytes.fromhex(grant[2:])) == 3
    start = next_second(suite.coordinator.w3)
    record(suite, grant, 2)
    honest_body = issue(suite, start, head_time(suite.coordinator.w3) + 1, [line(grant, dataset, 3, 4, 5)])
    sent.write_text(json.dumps(honest_body))
    assert main(["statement", "acknowledge", str(sent), *cli]) == 0, capsys.readouterr().err
    assert f"statement {honest_body['statement_id']} holds against the chain" in capsys.readouterr().out
    assert sides(suite.consumers[0], honest_body) == {"owner", "consumer"}


def test_a_statement_overlapping_an_acknowledged_period_is_refused(site: Site, suite: Suite) -> None:
    dataset, grant = hostile_grant(site, suite, "overlap", price=5)
    w3 = suite.coordinator.w3
    first_start = next_second(w3)
    record(suite, grant, 2)
    first = issue(suite, first_start, head_time(w3) + 1, [line(grant, dataset, 5, 1, 2)])
    settle(site, suite, first)

    # The department bills the same uses again, in a longer period, every count true to the chain.
    start = next_second(w3)
    record(suite, grant, 1)
    again = issue(suite, first_start, head_time(w3) + 1, [line(grant, dataset, 5, 1, 3)])
    assert_refused(site, suite, again, f"of statement {first['statement_id']}, which the consumer acknowledged",
                   "would be paid twice")
    assert start >= first["period_end"]

    # Nothing honest lost: the first statement stays settled, the uses stay on chain, and a
    # statement for the next period settles.
    assert sides(suite.consumers[0], first) == {"owner", "consumer"}
    assert suite.consumers[0].usage.uses_of(bytes.fromhex(grant[2:])) == 3
    start = next_second(w3)
    record(suite, grant, 1)
    settle(site, suite, issue(suite, start, head_time(w3) + 1, [line(grant, dataset, 5, 4, 4)]))


def test_a_statement_overlapping_a_period_the_chain_already_holds_is_refused(site: Site, suite: Suite) -> None:
    dataset, grant = hostile_grant(site, suite, "twin", price=2)
    w3 = suite.coordinator.w3
    start = next_second(w3)
    record(suite, grant, 2)
    end = head_time(w3) + 1
    first = issue(suite, start, end, [line(grant, dataset, 2, 1, 2)])
    twin = issue(suite, start, end, [line(grant, dataset, 2, 1, 2)], key=f"twin of {first['statement_id']}")
    assert twin["statement_id"] != first["statement_id"]
    assert_refused(site, suite, twin, f"of statement {first['statement_id']}, which the department issued "
                                      "on-chain before this one")

    # The statement issued first is not blocked by the later twin: it checks and settles.
    settle(site, suite, first)


def test_a_line_on_another_departments_dataset_is_refused(site: Site, node: NodeService,  # noqa: F811
                                                          suite: Suite) -> None:
    http, w3 = site.http, suite.coordinator.w3
    created = http.post("/datasets", headers=bearer(site.staff), json={
        "code": f"settled-{site.tag}", "name": "Visits billed by their owner", "category": "health", "grade": 2,
        "update_interval": 86400, "field_classes": {"name": "name", "phone": "mobile"}})
    assert created.status_code == 201, created.text
    theirs = created.json()["dataset_id"]
    uploaded = http.put(f"/datasets/{theirs}/versions", params={"format": "csv"}, content=CSV.encode(),
                        headers={**bearer(site.staff), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(theirs[2:]), root))
    grants = [request_access(http, site.honest, suite.consumers[0], theirs, f"settled {n} {site.tag}")
              for n in (1, 2)]
    for grant in grants:
        wait_until(lambda: any(q["grant_id"] == grant for q in http.get("/review/queue",
                                                                         headers=bearer(site.staff)).json()))
        approved = http.post(f"/grants/{grant}/approve", json={"reason": "ok", "price_per_use": 4},
                             headers=bearer(site.staff))
        assert approved.status_code == 202, approved.text
        assert wait_for_write(http, site.staff, approved.json()["id"])["status"] == "confirmed"
    start = next_second(w3)
    for grant in grants:
        made = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest))
        assert made.status_code == 201, made.text
    wait_until(lambda: all(node.ledger.usage.uses_of(bytes.fromhex(g[2:])) == 1 for g in grants))
    end = head_time(w3) + 1

    # The health commission bills the consumer's uses of the statistics bureau's data, once under
    # their true dataset, once claiming a dataset of its own.
    own, _ = hostile_grant(site, suite, "decoy", price=4)
    billed = issue(suite, start, end, [line(grants[0], theirs, 4, 1, 1), line(grants[1], own, 4, 1, 1)])
    assert_refused(site, suite, billed,
                   f"line 1 (grant {grants[0]}): dataset {theirs} is owned on-chain by {HONEST}, "
                   f"not by {HOSTILE}, which bills it",
                   f"line 2 (grant {grants[1]}): the grant is on dataset {theirs} on-chain, not {own}",
                   f"line 2 (grant {grants[1]}): dataset {theirs} is owned on-chain by {HONEST}")

    # Nothing honest lost: the owner's own statement of those uses, built by its node from what it
    # indexed and acknowledged by it on chain, checks and settles.
    wait_until(lambda: sum(u["grant_id"] in grants and u["refused"] is None
                           for u in http.get("/me/uses", params={"limit": 1000},
                                             headers=bearer(site.honest)).json()) == 2)
    issued = http.post("/statements", headers=bearer(site.staff),
                       json={"consumer": suite.accounts[7].address, "period_start": start, "period_end": end})
    assert issued.status_code == 201 and issued.json()["amount"] == "8", issued.text
    body = issued.json()["body"]
    wait_until(lambda: "owner" in sides(node.ledger, body))
    settle(site, suite, body)
