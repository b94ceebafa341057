"""A staff member with the least role tries to do more (issue 14): a ``viewer`` sends every
write route the API serves, the dashboard's review form, and the staff routes that would make it
an admin. Each is refused with a 403 naming the role it needs, and nothing changed: no chain
write queued, no dataset, no staff account touched, the admin's session still good."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account import Account
from fastapi import FastAPI
from sqlalchemy import func, select

from api.dashboard.session import COOKIE, form_token
from api.errors import operations
from api.sessions import WRITES
from node.models import Dataset, OutboxEntry, StaffAccount
from node.service import NodeService
from tests.api.clients import bearer
from tests.api.conftest import module_database_url, node, serve_node  # noqa: F401  (the node's fixtures)

pytestmark = pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True, scope="module")
PASSWORD = "least privilege password"
READS = {"/statements/check", "/audit/attributions"}
"""Writes by method only: they check what is sent and change nothing, so every staff role may."""
SIGN_IN = {"/auth/siwe", "/auth/staff"}


@dataclass
class Site:
    app: FastAPI
    http: httpx.Client
    viewer: str
    admin: str


@pytest.fixture(scope="module")
def site(node: NodeService) -> Iterator[Site]:  # noqa: F811
    with serve_node(node, {"viewer.mallory": "viewer", "admin.keeper": "admin"}, PASSWORD) as api:
        yield Site(api.app, api.http, api.staff["viewer.mallory"], api.staff["admin.keeper"])


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every documented route that changes something, with its path filled in: ids that name
    nothing, and the admin's own account where a username goes."""
    values = {"username": "admin.keeper", "number": "1"}
    found = []
    for route in operations(app):
        if route.include_in_schema and route.path_format not in READS | SIGN_IN:
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "0x" + "11" * 32), route.path_format)
            found += [(method, path) for method in sorted(route.methods & WRITES)]
    return found


def state(node: NodeService) -> tuple[Any, ...]:  # noqa: F811
    with node.sessions() as session:
        accounts = session.execute(select(StaffAccount.username, StaffAccount.role, StaffAccount.disabled,
                                          StaffAccount.session_epoch, StaffAccount.password_hash)
                                   .order_by(StaffAccount.username)).all()
        return (session.scalar(select(func.count()).select_from(OutboxEntry)),
                session.scalar(select(func.count()).select_from(Dataset)), accounts)


def test_a_viewer_is_refused_every_write_route_and_changes_nothing(site: Site, node: NodeService) -> None:  # noqa: F811
    routes = write_routes(site.app)
    assert {("POST", "/grants/0x" + "11" * 32 + "/approve"), ("POST", "/staff"), ("POST", "/datasets"),
            ("PUT", "/staff/admin.keeper/role"), ("POST", "/datasets/0x" + "11" * 32 + "/freeze")} <= set(routes)
    before = state(node)
    answered = {}
    for method, path in routes:
        if (method, path) == ("POST", "/relay"):
            continue  # not a staff route: it relays signed transactions (below)
        response = site.http.request(method, path, headers={**bearer(site.viewer), "Content-Type": "application/json"},
                                     content=b'{"role": "admin", "password": "taken over by mallory", "reason": "x"}')
        answered[f"{method} {path}"] = (response.status_code, response.json()["error"])
    allowed = {route: answer for route, answer in answered.items() if answer[0] != 403}
    assert not allowed, allowed
    # The relay takes a viewer for no one: a pause it signed itself is not a call the relay carries.
    consortium = node.ledger.consortium.contract
    signed = Account.create().sign_transaction({
        "to": consortium.address, "data": consortium.encode_abi("pause", [b"\x00" * 32]), "nonce": 0, "gas": 100_000,
        "gasPrice": 10**9, "chainId": node.ledger.manifest.chain_id})
    relayed = site.http.post("/relay", headers=bearer(site.viewer), json={"raw_transaction": signed.raw_transaction.to_0x_hex()})
    assert relayed.status_code == 403 and "Consortium.pause" in relayed.json()["error"]["message"], relayed.text
    needed = {route: error.get("needed_role") for route, (_, error) in answered.items()}
    assert needed[f"POST /grants/0x{'11' * 32}/approve"] == "reviewer"
    assert needed["POST /datasets"] == "steward" and needed["PUT /staff/admin.keeper/role"] == "admin"
    assert all(error["message"].startswith(("this needs the", "staff sign in")) for _, error in answered.values())

    assert state(node) == before
    assert site.http.get("/staff", headers=bearer(site.admin)).status_code == 200
    assert site.http.get("/auth/me", headers=bearer(site.viewer)).json()["staff_role"] == "viewer"


def test_a_viewer_is_refused_a_review_decision_through_the_dashboard(site: Site, node: NodeService) -> None:  # noqa: F811
    before = state(node)
    origin = str(site.http.base_url).rstrip("/")
    response = site.http.post(f"/dashboard/review/0x{'11' * 32}/approve", data={
        "form_token": form_token(site.viewer), "reason": "x"}, headers={"Origin": origin,
                                                                      "Cookie": f"{COOKIE}={site.viewer}"})
    assert response.status_code == 403 and "this needs the staff role reviewer" in response.text, response.text
    assert state(node) == before
