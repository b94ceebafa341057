"""The node's API over real HTTP against a real chain, with the node's background work running:
every role boundary refused with the right status, and the story told through the routes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from prov.model import ProvDocument
from sqlalchemy import Engine, event

from ledger import ids
from ledger.clients import GrantStatus, Rights
from ledger.deploy import department_id
from ledger.hashing import delivery_evidence
from node.access.delivery.crypto import decrypt_stream, public_key_of
from node.access.delivery.fingerprint import plain_masks
from node.service import NodeService
from node.access.settlement import chain_terms
from tests.api.clients import bearer, publish, relay, request_access, siwe_token, wait_for_write, wait_until
from tests.api.conftest import serve_node
from tests.utils.ledgers import DEPARTMENTS, Suite

PASSWORD = "reviewer password 2026"
CSV = "".join(f"Person {i},1380013{i:04d},{i % 5}\n" for i in range(60))


@dataclass
class Site:
    http: httpx.Client
    staff: str
    consumers: list[str]
    auditor: str
    outsider_domain: str


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite) -> Iterator[Site]:
    chain_id = node.ledger.manifest.chain_id
    with serve_node(node, {"reviewer.zhang": "admin"}, PASSWORD) as api:
        consumers = [siwe_token(api.http, suite.accounts[i], api.domain, chain_id) for i in (7, 8)]
        yield Site(api.http, api.staff["reviewer.zhang"], consumers,
                   siwe_token(api.http, suite.accounts[9], api.domain, chain_id), api.domain)


@contextmanager
def most_connections_per_request(engine: Engine) -> Iterator[dict[str, int]]:
    """The most database connections one request's worker thread held at once, while inside."""
    held: dict[int, int] = {}
    most = {"held": 0}

    def checkout(*_: object) -> None:
        if threading.current_thread().name.startswith("AnyIO worker"):
            held[threading.get_ident()] = held.get(threading.get_ident(), 0) + 1
            most["held"] = max(most["held"], held[threading.get_ident()])

    def checkin(*_: object) -> None:
        if threading.get_ident() in held:
            held[threading.get_ident()] -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield most
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def _dataset(site: Site, node: NodeService, code: str, grade: int = 2) -> str:
    return publish(site.http, site.staff, node.ledger, code, "name,phone,visits", CSV,
                   field_classes={"name": "name", "phone": "mobile"}, grade=grade)


def _approved(site: Site, grant: str, price: int = 0) -> None:
    wait_until(lambda: any(q["grant_id"] == grant for q in site.http.get(
        "/review/queue", headers=bearer(site.staff)).json()))
    accepted = site.http.post(f"/grants/{grant}/approve", json={"reason": "ok", "price_per_use": price},
                              headers=bearer(site.staff))
    assert accepted.status_code == 202, accepted.text
    assert wait_for_write(site.http, site.staff, accepted.json()["id"])["status"] == "confirmed"


def test_every_role_boundary_is_refused_with_the_right_status(site: Site, node: NodeService, suite: Suite,
                                                              module_database_url: str) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    http, consumer, other = site.http, site.consumers[0], site.consumers[1]
    for method, path in (("POST", "/datasets"), ("GET", "/review/queue"), ("GET", "/audit/alerts"),
                         ("GET", "/me/grants"), ("GET", "/stream/uses")):
        _error(http.request(method, path, json={}), 401, "unauthenticated")
    # Signed in or not, /relay takes only what the caller may send: without a session, nothing
    # but an account's own acceptance of a department's offer (tests/api/test_consortium_routes.py).
    _error(http.get("/audit/alerts", headers=bearer(consumer)), 403, "forbidden")
    _error(http.post("/datasets", json={}, headers=bearer(consumer)), 403, "forbidden")
    _error(http.post(f"/grants/0x{'11' * 32}/approve", json={}, headers=bearer(site.auditor)), 403, "forbidden")
    _error(http.get("/me/grants", headers=bearer(site.staff)), 403, "forbidden")
    _error(http.post(f"/grants/0x{'11' * 32}/co-approve", json={}, headers=bearer(site.staff)), 403, "forbidden")
    _error(http.get("/me/grants", headers=bearer(site.staff[:-2] + "xx")), 401, "unauthenticated")

    # A consumer without a grant, or with another consumer's.
    dataset_id = _dataset(site, node, f"bounds-{tag}")
    _error(http.post(f"/grants/0x{'22' * 32}/deliveries", json={}, headers=bearer(consumer)), 404, "not_found")
    grant = request_access(http, consumer, suite.consumers[0], dataset_id, f"bounds {tag}")
    _approved(site, grant)
    _error(http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(other)), 403, "forbidden")
    made = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(consumer))
    assert made.status_code == 201, made.text
    _error(http.get(made.json()["download"], headers=bearer(other)), 403, "forbidden")

    # A department acting on another department's dataset.
    theirs = hashlib.sha256(f"health dataset {tag}".encode()).digest()
    suite.departments[1].registry.register_dataset(theirs, metadata="{}", category=b"\x02" * 32,
                                                   grade=1, update_interval=0,
                                                   rights=Rights(department_id("health-commission")))
    theirs = ids.dataset_id(department_id("health-commission"), theirs)
    _error(http.get(f"/datasets/0x{theirs.hex()}", headers=bearer(site.staff)), 403, "forbidden")
    _error(http.post(f"/datasets/0x{theirs.hex()}/freeze", json={"reason": "no"}, headers=bearer(site.staff)),
           403, "forbidden")
    their_grant = request_access(http, consumer, suite.consumers[0], "0x" + theirs.hex(), f"theirs {tag}")
    _error(http.post(f"/grants/{their_grant}/approve", json={}, headers=bearer(site.staff)), 403, "forbidden")

    # Bad input is a 4xx naming what is wrong, never a 500.
    _error(http.post("/datasets", json={"code": "x", "name": "x", "category": "x", "grade": 9, "update_interval": 0},
                     headers=bearer(site.staff)), 422, "invalid_input")
    _error(http.post("/relay", json={"raw_transaction": "0x1234"}, headers=bearer(consumer)), 422, "invalid_input")
    _error(http.post(f"/grants/{grant}/approve", json={}, headers=bearer(site.staff)), 409, "conflict")


def test_the_story_through_the_routes(site: Site, node: NodeService, suite: Suite, module_database_url: str) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    http = site.http
    consumer_key = bytes(suite.accounts[7].key)
    dataset_id = _dataset(site, node, f"story-{tag}")
    grant = request_access(http, site.consumers[0], suite.consumers[0], dataset_id, f"story {tag}", max_uses=3)
    other_grant = request_access(http, site.consumers[1], suite.consumers[1], dataset_id, f"story other {tag}")
    _approved(site, grant, price=7)
    _approved(site, other_grant)
    assert node.ledger.grants.grant(bytes.fromhex(grant[2:])).status is GrantStatus.ACTIVE

    # Deliveries: encrypted to the consumer's own key, which it alone decrypts; the third use is the last.
    made = http.post(f"/grants/{grant}/deliveries", json={"public_key": "0x" + public_key_of(consumer_key).hex()},
                     headers=bearer(site.consumers[0]))
    assert made.status_code == 201 and made.json()["encrypted"], made.text
    sealed = http.get(made.json()["download"], headers=bearer(site.consumers[0]))
    assert "0x" + delivery_evidence(bytes.fromhex(made.json()["delivery_id"][2:]),
                                    hashlib.sha256(sealed.content).digest()).hex() == made.json()["evidence_hash"]
    opened = io.BytesIO()
    decrypt_stream(io.BytesIO(sealed.content), opened, consumer_key)
    rows = list(csv.reader(io.StringIO(plain_masks(opened.getvalue().decode()))))
    assert rows[1] == ["P***** *", "138****0000", "0"] and len(rows) == 61
    for _ in range(2):
        again = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.consumers[0]))
        assert again.status_code == 201, again.text
    over = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.consumers[0]))
    _error(over, 403, "grant_refused")
    assert over.json()["error"]["refusal"] == "quota_exhausted"
    leaked = http.get(http.post(f"/grants/{other_grant}/deliveries", json={}, headers=bearer(site.consumers[1]))
                      .json()["download"], headers=bearer(site.consumers[1])).content

    # Monitoring: the uses, the refusal and the alerts, as indexed; and the live stream.
    def grant_uses() -> list[dict[str, object]]:
        found = [u for u in http.get("/me/uses", headers=bearer(site.consumers[0])).json() if u["grant_id"] == grant]
        return found if len(found) == 4 else []

    uses = wait_until(grant_uses)
    assert sorted(u["sequence"] for u in uses if u["sequence"]) == [1, 2, 3]
    assert [u["refused"] for u in uses if u["refused"]] == ["quota_exhausted"]
    alerts = wait_until(lambda: {a["kind"] for a in http.get("/audit/alerts", headers=bearer(site.auditor)).json()
                                 if a["grant_id"] == grant} >= {"quota", "refused"})
    assert alerts
    with http.stream("GET", "/stream/uses", params={"after": 0, "dataset_id": dataset_id},
                     headers=bearer(site.consumers[0])) as stream:
        event = next(json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:"))
    assert event["grant_id"] == grant and event["consumer"] == suite.accounts[7].address

    # Settlement: issued by the department, checked and acknowledged by the consumer's own signature.
    issued = http.post("/statements", headers=bearer(site.staff), json={
        "consumer": suite.accounts[7].address, "period_start": len(tag), "period_end": 2**40})
    assert issued.status_code == 201 and issued.json()["amount"] == "21", issued.text
    body = http.get(f"/statements/{issued.json()['statement_id']}", headers=bearer(site.consumers[0])).json()["body"]
    _error(http.get(f"/statements/{issued.json()['statement_id']}", headers=bearer(site.consumers[1])), 403, "forbidden")
    statement_id = bytes.fromhex(body["statement_id"][2:])
    wait_until(lambda: node.ledger.usage.statement(department_id(DEPARTMENTS[0]), statement_id)[1])
    acknowledged = relay(http, site.consumers[0], suite.accounts[7],
                         suite.consumers[0].usage.contract.functions.acknowledgeStatement(chain_terms(body).as_tuple()))
    assert acknowledged["status"] == "success", acknowledged
    assert node.ledger.usage.statement(department_id(DEPARTMENTS[0]), statement_id)[1:] == (True, True)

    # The auditor: the trace, verified page by page; PROV; a leaked copy attributed. No request
    # holds two database connections at once (32 such requests would starve the pool of 15).
    items, after = [], 0
    with most_connections_per_request(node.engine) as most:
        while after is not None:
            page = http.get(f"/audit/datasets/{dataset_id}/trace", params={"after": after, "limit": 5, "verify": True},
                            headers=bearer(site.auditor)).json()
            items += page["items"]
            after = page["next_after"]
    assert most == {"held": 1}, most
    names = [i["name"] for i in items]
    assert {"DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "GrantActivated",
            "UseRecorded", "UseRefused"} <= set(names)
    assert all(i["verification"]["ok"] for i in items), [i for i in items if not i["verification"]["ok"]]
    prov = http.get(f"/audit/datasets/{dataset_id}/prov", headers=bearer(site.auditor))
    assert prov.status_code == 200 and ProvDocument.deserialize(content=prov.text, format="json")
    assert "content-length" not in prov.headers, "the document is streamed as the index is read"
    consumer_trace = http.get(f"/audit/consumers/{suite.accounts[7].address.lower()}/trace",
                              headers=bearer(site.auditor)).json()
    assert "StatementAcknowledged" in {i["name"] for i in consumer_trace["items"]}
    found = http.post("/audit/attributions", params={"dataset_id": dataset_id, "format": "csv"},
                      content=leaked[: len(leaked) // 2], headers={**bearer(site.auditor), "Content-Type": "text/csv"})
    assert found.status_code == 200, found.text
    assert found.json()["consumer"] == suite.accounts[8].address and found.json()["confident"]
    files = http.get(f"/audit/datasets/{dataset_id}/versions/1/verification", headers=bearer(site.auditor))
    assert files.json() == {"ok": True, "problems": [], "purged": None}

    # The public: the catalog and its DCAT form, health; metrics for staff.
    assert dataset_id in {d["dataset_id"] for d in http.get("/catalog").json()}
    assert "dcat:Catalog" in json.dumps(http.get("/catalog/dcat").json())
    assert http.get("/health").json()["status"] == "ok"
    assert "provledger_outbox_entries" in http.get("/metrics", headers=bearer(site.staff)).text
