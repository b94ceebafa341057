"""Sessions follow the chain (issue 13, attack 7): a consumer its sponsor removed, an auditor
whose role was revoked, or a node account taken out of its department stops acting within
seconds with the session token it already holds, while everyone still registered goes on;
and when the chain does not answer, a wallet session is refused rather than trusted."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import Depends, FastAPI
from web3 import Web3

from api import errors
from api.auth.service import Auth
from api.auth.siwe import siwe_message
from api.auth.tokens import Principal
from api.dashboard.session import COOKIE
from api.sessions import ChainRoles
from api.staff import create_staff
from ledger.chain import LocalChain, free_port
from ledger.deploy import Ledger, department_id
from ledger.hashing import delivery_evidence
from ledger.rpc import RpcBatcher
from ledger.tx import TransactionSender
from ledger.waiting import wait_for
from node.keyfiles import secret_file
from node.service import NodeService
from tests.adversarial.conftest import Site, approve
from tests.api.clients import bearer, publish, request_access, siwe_token, staff_token, wait_until
from tests.api.conftest import module_database_url, node, serve  # noqa: F401  (the node's fixtures)
from tests.utils.ledgers import DEPARTMENTS, Suite

PASSWORD = "sessions follow the chain"
WITHIN = 10.0
"""Seconds a revocation may take to reach a session: a few times the API's role cache (3 s)."""


# ---------------------------------------------------------------- the tests' people


def newcomer(chain: LocalChain, suite: Suite, *, consumer: bool = True, auditor: bool = False) -> LocalAccount:
    """A fresh funded account: a consumer sponsored by the second department (whose service
    account is not the node's), an auditor, or both."""
    account: LocalAccount = Account.create()
    chain.web3().provider.make_request("anvil_setBalance", [account.address, hex(10**20)])  # type: ignore[arg-type]
    if consumer:
        suite.departments[1].consortium.register_consumer(account.address)
    if auditor:
        suite.coordinator.consortium.appoint_auditor(account.address)
    return account


def remove_consumer(sponsor: Ledger, consumer: str) -> None:
    consortium = sponsor.consortium
    assert consortium.sender is not None
    consortium.sender.transact(consortium.contract.functions.removeConsumer(consumer))
    assert consortium.sponsor_of(consumer) == b"\x00" * 32


def revoke_auditor(coordinator: Ledger, auditor: str) -> None:
    functions = coordinator.consortium.contract.functions
    assert coordinator.sender is not None
    coordinator.sender.transact(functions.revokeRole(functions.AUDITOR_ROLE().call(), auditor))
    assert not coordinator.consortium.is_auditor(auditor)


def refused_within(ask: Callable[[], httpx.Response], refused: tuple[int, ...] = (401, 403)) -> httpx.Response:
    """Ask until the answer's status is one of ``refused``, for at most :data:`WITHIN` seconds;
    that answer. Until then, every answer must be a 200."""
    def probe() -> httpx.Response | None:
        response = ask()
        if response.status_code in refused:
            return response
        assert response.status_code == 200, response.text
        return None

    return wait_for(probe, timeout=WITHIN, interval=0.2, what=f"a refusal {refused}")


def sign_in(site: Site, account: LocalAccount, **changes: Any) -> httpx.Response:
    """Sign in with a message for this site, now, with ``changes`` to its fields (:func:`siwe_message`'s)."""
    fields: dict[str, Any] = {
        "domain": site.domain, "address": account.address, "uri": str(site.http.base_url), "chain_id": site.chain_id,
        "nonce": site.http.get("/auth/nonce").json()["nonce"],
        "issued_at": datetime.now(timezone.utc) - timedelta(seconds=5)}
    message = siwe_message(**{**fields, **changes})
    signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
    return site.http.post("/auth/siwe", json={"message": message, "signature": signature})


def refusal(response: httpx.Response, status: int, code: str, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert says in response.json()["error"]["message"], response.text


# ---------------------------------------------------------------- consumers


def test_a_removed_consumer_loses_its_session_within_seconds(site: Site, chain: LocalChain, suite: Suite) -> None:
    removed, registered = newcomer(chain, suite), newcomer(chain, suite)
    token, other = (siwe_token(site.http, a, site.domain, site.chain_id) for a in (removed, registered))
    assert site.http.get("/me/grants", headers=bearer(token)).status_code == 200

    remove_consumer(suite.departments[1], removed.address)

    gone = f"consumer {removed.address} is no longer registered on chain"
    refusal(refused_within(lambda: site.http.get("/me/grants", headers=bearer(token))), 401, "unauthenticated", gone)
    refusal(site.http.get("/auth/me", headers=bearer(token)), 401, "unauthenticated", gone)
    refusal(sign_in(site, removed), 403, "forbidden", "neither a consumer nor an auditor")

    assert site.http.get("/me/grants", headers=bearer(other)).status_code == 200
    assert site.http.get("/auth/me", headers=bearer(other)).json()["roles"] == ["consumer"]


def test_a_removed_consumers_dashboard_session_ends_within_seconds(site: Site, chain: LocalChain,
                                                                    suite: Suite) -> None:
    removed = newcomer(chain, suite)
    cookie = {"Cookie": f"{COOKIE}={siwe_token(site.http, removed, site.domain, site.chain_id)}"}
    assert site.http.get("/dashboard/monitor", headers=cookie).status_code == 200

    remove_consumer(suite.departments[1], removed.address)

    ended = refused_within(lambda: site.http.get("/dashboard/monitor", headers=cookie), refused=(303,))
    assert ended.status_code == 303 and ended.headers["location"].startswith("/dashboard/sign-in"), ended.text


def test_a_removed_consumer_gets_no_delivery_or_download_with_the_token_it_already_holds(
        site: Site, node: NodeService, chain: LocalChain, suite: Suite) -> None:
    dataset_id = _dataset(site, node, f"sessions-{uuid.uuid4().hex[:12]}")
    removed, registered = newcomer(chain, suite), newcomer(chain, suite)
    tokens, grants = {}, {}
    for account in (removed, registered):
        tokens[account.address] = token = siwe_token(site.http, account, site.domain, site.chain_id)
        ledger = suite.coordinator.as_account(TransactionSender(suite.coordinator.w3, account))
        grants[account.address] = grant = request_access(site.http, token, ledger, dataset_id, uuid.uuid4().hex)
        approve(site, grant)  # type: ignore[arg-type]  (this module's Site has the same http and staff)
    token, grant = tokens[removed.address], grants[removed.address]
    served = site.http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(token))
    assert served.status_code == 201, served.text
    uses = wait_until(lambda: node.ledger.usage.uses_of(bytes.fromhex(grant[2:])))

    remove_consumer(suite.departments[1], removed.address)

    gone = f"consumer {removed.address} is no longer registered on chain"
    refusal(refused_within(lambda: site.http.get("/me/grants", headers=bearer(token))), 401, "unauthenticated", gone)
    refusal(site.http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(token)), 401, "unauthenticated", gone)
    refusal(site.http.get(served.json()["download"], headers=bearer(token)), 401, "unauthenticated", gone)
    assert node.ledger.usage.uses_of(bytes.fromhex(grant[2:])) == uses

    # The consumer still registered is served as before, and its use lands on chain.
    other, other_grant = tokens[registered.address], grants[registered.address]
    made = site.http.post(f"/grants/{other_grant}/deliveries", json={}, headers=bearer(other))
    assert made.status_code == 201, made.text
    copy = site.http.get(made.json()["download"], headers=bearer(other))
    evidence = delivery_evidence(bytes.fromhex(made.json()["delivery_id"][2:]), hashlib.sha256(copy.content).digest())
    assert copy.status_code == 200 and "0x" + evidence.hex() == made.json()["evidence_hash"]
    assert wait_until(lambda: node.ledger.usage.uses_of(bytes.fromhex(other_grant[2:])) == 1)


def _dataset(site: Site, node: NodeService, code: str) -> str:
    rows = "".join(f"Person {i},{i % 5}\n" for i in range(20))
    return publish(site.http, site.staff, node.ledger, code, "name,visits", rows, field_classes={"name": "name"})


# ---------------------------------------------------------------- auditors


def test_a_revoked_auditor_loses_its_session_within_seconds(site: Site, chain: LocalChain, suite: Suite) -> None:
    revoked, appointed = (newcomer(chain, suite, consumer=False, auditor=True) for _ in range(2))
    token, other = (siwe_token(site.http, a, site.domain, site.chain_id) for a in (revoked, appointed))
    assert site.http.get("/audit/alerts", headers=bearer(token)).status_code == 200

    revoke_auditor(suite.coordinator, revoked.address)

    gone = f"auditor {revoked.address} no longer holds the auditor role on chain"
    refusal(refused_within(lambda: site.http.get("/audit/alerts", headers=bearer(token))),
            401, "unauthenticated", gone)
    refusal(site.http.get("/auth/me", headers=bearer(token)), 401, "unauthenticated", gone)
    assert site.http.get("/audit/alerts", headers=bearer(other)).status_code == 200
    assert site.http.get("/auth/me", headers=bearer(other)).json()["roles"] == ["auditor"]


def test_an_account_keeps_the_role_it_still_holds_when_another_is_revoked(site: Site, chain: LocalChain,
                                                                          suite: Suite) -> None:
    both = newcomer(chain, suite, auditor=True)
    token = siwe_token(site.http, both, site.domain, site.chain_id)
    assert site.http.get("/auth/me", headers=bearer(token)).json()["roles"] == ["auditor", "consumer"]

    revoke_auditor(suite.coordinator, both.address)

    refusal(refused_within(lambda: site.http.get("/audit/alerts", headers=bearer(token))), 403, "forbidden",
            f"auditor {both.address} no longer holds the auditor role on chain")
    assert site.http.get("/me/grants", headers=bearer(token)).status_code == 200
    assert site.http.get("/auth/me", headers=bearer(token)).json()["roles"] == ["consumer"]


# ---------------------------------------------------------------- forged tokens, messages for elsewhere


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_session_tokens_are_refused_while_the_honest_one_goes_on(site: Site, node: NodeService) -> None:
    claims = jwt.decode(site.honest, options={"verify_signature": False})
    header, _, signature = site.honest.split(".")
    now = int(time.time())
    node_key = secret_file(node.settings.data_dir / "session.key")
    forgeries = {
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.",
        "another node's key": jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256"),
        "expired": jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, node_key, algorithm="HS256"),
        "a claim changed": f"{header}.{segment({**claims, 'roles': ['auditor', 'consumer']})}.{signature}",
    }
    for token in forgeries.values():
        refusal(site.http.get("/auth/me", headers=bearer(token)), 401, "unauthenticated", "session token")
        refusal(site.http.get("/audit/alerts", headers=bearer(token)), 401, "unauthenticated", "session token")
    # What made each refusal is what was forged: the same claims under the node's key are a session.
    resigned = jwt.encode({**claims, "jti": "resigned"}, node_key, algorithm="HS256")
    assert site.http.get("/auth/me", headers=bearer(resigned)).json()["roles"] == ["consumer"]
    assert site.http.get("/auth/me", headers=bearer(site.honest)).json()["address"] == claims["addr"]


def test_sign_in_messages_for_another_site_chain_or_time_or_with_a_spent_nonce_are_refused(
        site: Site, suite: Suite) -> None:
    consumer = suite.accounts[7]
    refusal(sign_in(site, consumer, domain="evil.example:443"), 401, "unauthenticated", "is for evil.example:443")
    refusal(sign_in(site, consumer, chain_id=site.chain_id + 1), 401, "unauthenticated", f"chain {site.chain_id + 1}")
    refusal(sign_in(site, consumer, expiration=datetime.now(timezone.utc) - timedelta(seconds=1)),
            401, "unauthenticated", "expired")
    spent = site.http.get("/auth/nonce").json()["nonce"]
    assert sign_in(site, consumer, nonce=spent).status_code == 200
    refusal(sign_in(site, consumer, nonce=spent), 401, "unauthenticated", "used already")


# ---------------------------------------------------------------- staff, and a chain that does not answer


def small_app(auth: Auth) -> FastAPI:
    """Sign-in and three routes: a department's read and write, and a consumer's read."""
    app = FastAPI()
    errors.install(app)
    app.include_router(auth.router())

    @app.get("/department")
    def read(who: Principal = Depends(auth.require("department", staff="viewer"))) -> dict[str, Any]:
        return {"subject": who.subject}

    @app.post("/department")
    def write(who: Principal = Depends(auth.require("department", staff="steward"))) -> dict[str, Any]:
        return {"subject": who.subject}

    @app.get("/consumer")
    def consume(who: Principal = Depends(auth.require("consumer"))) -> dict[str, Any]:
        return {"subject": who.subject}

    return app


def node_auth(node: NodeService, port: int, secret: Path, *, department: str, node_address: str) -> Auth:
    return Auth(sessions=node.sessions, ledger=node.ledger, department=department, node_address=node_address,
                domain=f"127.0.0.1:{port}", chain_id=node.sender.chain_id, secret_path=secret)


def test_staff_cannot_write_once_the_nodes_account_no_longer_serves_its_department(
        node: NodeService, chain: LocalChain, suite: Suite, tmp_path: Path) -> None:
    # A second node of the health commission, whose service account the commission later takes back.
    account = newcomer(chain, suite, consumer=False)
    commission = suite.departments[1].consortium
    commission.offer_service_account(account.address)
    suite.coordinator.as_account(TransactionSender(chain.web3(), account)).consortium.accept_service_account(
        department_id(DEPARTMENTS[1]))
    username = f"staff.{uuid.uuid4().hex[:8]}"
    with node.sessions() as session:
        create_staff(session, username, PASSWORD, "steward")
        session.commit()
    port = free_port()
    auth = node_auth(node, port, tmp_path / "session.key", department=DEPARTMENTS[1], node_address=account.address)
    with serve(small_app(auth), port) as served, httpx.Client(base_url=served.base_url, timeout=30) as http:
        token = staff_token(http, username, PASSWORD)
        assert http.post("/department", headers=bearer(token)).status_code == 200

        assert commission.sender is not None
        commission.sender.transact(commission.contract.functions.removeServiceAccount(account.address))

        refusal(refused_within(lambda: http.post("/department", headers=bearer(token))), 403, "forbidden",
                f"department {DEPARTMENTS[1]} no longer counts this node's account {account.address} as its own")
        assert http.get("/department", headers=bearer(token)).status_code == 200
        assert http.get("/auth/me", headers=bearer(token)).json()["roles"] == ["department"]


def test_while_the_chain_does_not_answer_wallet_sessions_are_refused_and_staff_still_reach_their_routes(
        node: NodeService, chain: LocalChain, suite: Suite, tmp_path: Path) -> None:
    consumer = newcomer(chain, suite)
    username = f"staff.{uuid.uuid4().hex[:8]}"
    with node.sessions() as session:
        create_staff(session, username, PASSWORD, "steward")
        session.commit()
    port = free_port()
    auth = node_auth(node, port, tmp_path / "session.key", department=DEPARTMENTS[0],
                     node_address=node.sender.account.address)
    # Sign-in reads the chain through the node; the sessions' role reads go where nothing answers.
    auth.chain = ChainRoles(node.ledger.consortium, rpc=RpcBatcher(f"http://127.0.0.1:{free_port()}", timeout=2))
    with serve(small_app(auth), port) as served, httpx.Client(base_url=served.base_url, timeout=30) as http:
        token = siwe_token(http, consumer, auth.domain, auth.chain_id)
        refusal(http.get("/consumer", headers=bearer(token)), 503, "chain_unavailable",
                f"the roles of {consumer.address} cannot be confirmed on chain now")
        refusal(http.get("/auth/me", headers=bearer(token)), 503, "chain_unavailable", "cannot be confirmed")
        # Staff writes wait in the outbox for the chain, which refuses them itself if need be.
        staff = staff_token(http, username, PASSWORD)
        assert http.post("/department", headers=bearer(staff)).status_code == 200
