"""Driving the consortium's governance through each department node's API, as its staff would:
a signed-in HTTP client per department of a :class:`api.local.LocalDeployment`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.local import LocalDeployment
from ledger.waiting import wait_for
from tests.api.clients import bearer, siwe_token, staff_token

WITHIN = 60.0
"""Seconds a write is given to land and be indexed."""


@dataclass
class Staff:
    """A department's admin, signed in at its own node."""

    code: str
    http: httpx.Client
    token: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, json=body if body is not None else {}, headers=bearer(self.token))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers=bearer(self.token))

    def accepted(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The write a 202 accepted, once it is confirmed on chain."""
        response = self.post(path, body)
        assert response.status_code == 202, response.text
        write: dict[str, Any] = response.json()
        done = wait_for(lambda: (b if (b := self.get(f"/writes/{write['id']}").json())["status"]
                                 in ("confirmed", "failed") else None),
                        timeout=WITHIN, what=f"write {write['id']} ({write['kind']}) to settle", interval=0.1)
        assert done["status"] == "confirmed", done
        return {**write, **done}

    def state(self) -> dict[str, Any]:
        response = self.get("/consortium")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def eventually(self, check: Callable[[dict[str, Any]], Any], what: str) -> Any:
        """What ``check`` finds in ``GET /consortium`` once it finds something (the index follows the chain)."""
        return wait_for(lambda: check(self.state()) or None, timeout=WITHIN, what=what, interval=0.1)


@dataclass
class Governance:
    """The deployment's departments' admins, and fresh accounts for newcomers."""

    deployment: LocalDeployment
    staff: dict[str, Staff] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.deployment.departments]

    @property
    def coordinator(self) -> Staff:
        return self.staff[next(d.code for d in self.deployment.departments if d.coordinator)]

    @property
    def others(self) -> list[Staff]:
        return [s for s in self.staff.values() if s is not self.coordinator]

    @property
    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.deployment.chain_url))

    def fresh_account(self, *, funded: bool = False) -> LocalAccount:
        account: LocalAccount = Account.create()
        if funded:
            self.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
        return account

    def client(self, code: str) -> httpx.Client:
        return httpx.Client(base_url=self.deployment.department(code).url, timeout=60)

    def wallet_token(self, code: str, http: httpx.Client, account: LocalAccount) -> str:
        return siwe_token(http, account, http.base_url.netloc.decode(), self.w3.eth.chain_id)


@contextmanager
def governed(deployment: LocalDeployment) -> Iterator[Governance]:
    """An admin session at each department's node of ``deployment``."""
    clients = []
    try:
        governance = Governance(deployment)
        for department in deployment.departments:
            http = httpx.Client(base_url=department.url, timeout=60)
            clients.append(http)
            governance.staff[department.code] = Staff(department.code, http,
                                                      staff_token(http, department.username, department.password))
        yield governance
    finally:
        for http in clients:
            http.close()
