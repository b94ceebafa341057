"""Fixtures for the adversarial tests: the first department's node (stats bureau) served over real
HTTP with its background work running, its staff, two consumers (the honest one and the hostile
one), the auditor, and a way to read and tamper with the node's own SQL as its operator could."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import create_staff
from ledger.chain import free_port
from node.indexer import CURSOR
from node.models import IndexerCursor
from node.service import NodeService
from tests.api.clients import bearer, siwe_token, staff_token, wait_for_write, wait_until
from tests.api.conftest import module_database_url, node, serve  # noqa: F401  (fixtures used here)
from tests.utils.ledgers import Suite

USERNAME, PASSWORD = "reviewer.adversarial", "adversarial reviewer password"


@dataclass
class Site:
    http: httpx.Client
    url: str
    staff: str
    honest: str
    """The session token of consumer 7 (the honest one, whose grants are attacked)."""
    hostile: str
    """The session token of consumer 8 (the hostile one)."""
    auditor: str
    tag: str
    """``sqlite`` or ``postgresql``: the module's chain holds both runs, so ids differ by it."""


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite, module_database_url: str) -> Iterator[Site]:  # noqa: F811
    port = free_port()
    domain = f"127.0.0.1:{port}"
    with node.sessions() as session:
        create_staff(session, USERNAME, PASSWORD)
        session.commit()
    chain_id = node.ledger.manifest.chain_id
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    with serve(create_app(node, domain=domain), port, lifespan=True) as served, \
            httpx.Client(base_url=served.base_url, timeout=120) as http:
        honest, hostile = (siwe_token(http, suite.accounts[i], domain, chain_id) for i in (7, 8))
        yield Site(http, served.base_url, staff_token(http, USERNAME, PASSWORD), honest, hostile,
                   siwe_token(http, suite.accounts[9], domain, chain_id), tag)


def create_dataset(site: Site, node: NodeService, code: str) -> str:  # noqa: F811
    """A grade-1 dataset of the node's department with one version, anchored on chain."""
    created = site.http.post("/datasets", headers=bearer(site.staff), json={
        "code": f"{code}-{site.tag}", "name": f"Adversarial {code}", "category": "health", "grade": 1,
        "update_interval": 86400, "field_classes": {"name": "name"}})
    assert created.status_code == 201, created.text
    dataset_id: str = created.json()["dataset_id"]
    uploaded = site.http.put(f"/datasets/{dataset_id}/versions", params={"format": "csv"},
                             content=b"name,visits\n" + b"".join(b"Person %d,%d\n" % (i, i) for i in range(20)),
                             headers={**bearer(site.staff), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    return dataset_id


def approve(site: Site, grant: str) -> None:
    wait_until(lambda: any(q["grant_id"] == grant for q in site.http.get(
        "/review/queue", headers=bearer(site.staff)).json()))
    accepted = site.http.post(f"/grants/{grant}/approve", json={"reason": "ok", "price_per_use": 0},
                              headers=bearer(site.staff))
    assert accepted.status_code == 202, accepted.text
    assert wait_for_write(site.http, site.staff, accepted.json()["id"])["status"] == "confirmed"


def indexed_up_to(node: NodeService, block: int) -> None:  # noqa: F811
    """Wait until the node's index reached ``block``."""
    def done() -> bool:
        with node.sessions() as session:
            cursor = session.get(IndexerCursor, CURSOR)
            return cursor is not None and cursor.block_number >= block
    wait_until(done)


@dataclass
class Walk:
    """A trace read page by page with ``verify``: its items, and each page's completeness check."""

    items: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [i for i in self.items if not i["verification"]["ok"]]

    @property
    def problems(self) -> list[str]:
        return list(dict.fromkeys(p for c in self.checks for p in c["problems"]))

    @property
    def ok(self) -> bool:
        return not self.failed and all(c["ok"] for c in self.checks)


def page(site: Site, path: str, *, after: int = 0, limit: int = 50) -> dict[str, Any]:
    response = site.http.get(path, params={"after": after, "limit": limit, "verify": True},
                             headers=bearer(site.auditor))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def walk(site: Site, path: str, *, limit: int = 50) -> Walk:
    items: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        found = page(site, path, after=after, limit=limit)
        items += found["items"]
        checks.append(found["complete"])
        after = found["next_after"]
    return Walk(items, checks)
