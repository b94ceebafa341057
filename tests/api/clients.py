"""Signing in and signing for the API as the tests' people: staff by password, consumers and
auditors with Sign-In with Ethereum, consumer transactions signed locally and relayed."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from collections.abc import Callable
from typing import Any

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction

from api.auth.siwe import siwe_message
from ledger import ids
from ledger.clients import Action
from ledger.deploy import Ledger
from ledger.waiting import wait_for


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff_token(http: httpx.Client, username: str, password: str) -> str:
    response = http.post("/auth/staff", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def siwe_token(http: httpx.Client, account: LocalAccount, domain: str, chain_id: int) -> str:
    nonce = http.get("/auth/nonce").json()["nonce"]
    message = siwe_message(domain, account.address, str(http.base_url), chain_id, nonce,
                           datetime.now(timezone.utc) - timedelta(seconds=5))
    signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
    response = http.post("/auth/siwe", json={"message": message, "signature": signature})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def relay(http: httpx.Client, token: str, account: LocalAccount, call: ContractFunction) -> dict[str, Any]:
    """Sign ``call`` with the consumer's own key, have the node relay it and follow it until mined."""
    params = http.get("/relay/params", headers=bearer(token)).json()
    tx = call.build_transaction({"from": account.address, "nonce": params["nonce"], "chainId": params["chain_id"],
                                 "gas": 600_000, "gasPrice": params["gas_price"]})
    raw = account.sign_transaction(tx).raw_transaction
    response = http.post("/relay", json={"raw_transaction": Web3.to_hex(raw)}, headers=bearer(token))
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["status"] == "pending" and response.headers["location"] == sent["follow"], sent
    return follow_relayed(http, token, sent["follow"])


def follow_relayed(http: httpx.Client, token: str, follow: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a relayed transaction until it is mined; its final state."""

    def mined() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(follow, headers=bearer(token)).json()
        return None if body["status"] == "pending" else body

    found: dict[str, Any] = wait_until(mined, timeout=timeout, every=0.05)
    return found


def request_access(http: httpx.Client, token: str, consumer: Ledger, dataset_id: str, tag: str, *,
                   fields: tuple[str, ...] = (), max_uses: int = 10, duration: int = 3600) -> str:
    assert consumer.sender is not None
    grant = hashlib.sha256(f"api grant {tag}".encode()).digest()
    call = consumer.grants.contract.functions.requestAccess(
        grant, (bytes.fromhex(dataset_id[2:]), f"purpose {tag}", b"\x00" * 32, sorted(fields),
                Action.mask(Action.DOWNLOAD), duration, max_uses))
    result = relay(http, token, consumer.sender.account, call)
    assert result["status"] == "success", result
    return "0x" + ids.grant_id(consumer.sender.address, grant).hex()


def wait_for_write(http: httpx.Client, token: str, write_id: int, timeout: float = 60) -> dict[str, Any]:
    """The chain write ``write_id`` once confirmed or failed (fails the test at the deadline)."""
    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/writes/{write_id}", headers=bearer(token)).json()
        return body if body["status"] in ("confirmed", "failed") else None
    return wait_for(settled, timeout=timeout, what=f"write {write_id} to settle", interval=0.1)


def wait_until(check: Callable[[], Any], timeout: float = 60, every: float = 0.1, what: str = "a condition") -> Any:
    """Poll ``check()`` until it returns something truthy; returns it (or fails at the deadline)."""
    return wait_for(lambda: check() or None, timeout=timeout, what=what, interval=every)


def publish(http: httpx.Client, token: str, ledger: Ledger, code: str, header: str, rows: str, *,
            field_classes: dict[str, str], grade: int = 2, name: str | None = None) -> str:
    """Register dataset ``code`` as staff, upload one CSV version, wait until it is anchored on
    chain; its dataset id."""
    created = http.post("/datasets", headers=bearer(token), json={
        "code": code, "name": name or f"Visits {code}", "category": "health", "grade": grade, "update_interval": 86400,
        "field_classes": field_classes})
    assert created.status_code == 201, created.text
    dataset_id: str = created.json()["dataset_id"]
    uploaded = http.put(f"/datasets/{dataset_id}/versions", params={"format": "csv"},
                        content=(header + "\n" + rows).encode(),
                        headers={**bearer(token), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    return dataset_id
