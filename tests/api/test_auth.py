"""Sign-in over real HTTP: staff passwords, Sign-In with Ethereum against the real Consortium
contract, session tokens, and the role checks routes declare."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import Depends, FastAPI
from web3 import Web3

from api import errors
from api.auth.passwords import check_password, hash_password
from api.auth.service import Auth
from api.auth.siwe import siwe_message
from api.auth.tokens import Principal
from api.staff import create_staff
from ledger.chain import free_port
from node.errors import AlreadyExists, InvalidInput
from node.models import StaffAccount
from node.service import NodeService
from tests.api.conftest import serve
from tests.utils.ledgers import DEPARTMENTS, Suite

STAFF_PASSWORD = "a long staff password"


@dataclass
class Api:
    auth: Auth
    http: httpx.Client
    base_url: str


def make_app(auth: Auth) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.include_router(auth.router())
    for role in ("department", "coordinator", "consumer", "auditor"):
        staff = "viewer" if role in ("department", "coordinator") else None

        def only(principal: Principal = Depends(auth.require(role, staff=staff))) -> dict[str, Any]:
            return {"subject": principal.subject}

        app.get(f"/only/{role}")(only)

    @app.get("/public")
    def public(principal: Principal | None = Depends(auth.optional())) -> dict[str, Any]:
        return {"subject": principal.subject if principal else None}

    return app



@pytest.fixture(scope="module")
def api(node: NodeService) -> Iterator[Api]:
    port = free_port()
    auth = Auth.for_node(node, domain=f"127.0.0.1:{port}")
    with node.sessions() as session:
        create_staff(session, "reviewer.li", STAFF_PASSWORD, "reviewer")
        create_staff(session, "former.wang", STAFF_PASSWORD, "viewer").disabled = True
        session.commit()
    with serve(make_app(auth), port) as served, httpx.Client(base_url=served.base_url, timeout=30) as http:
        yield Api(auth, http, served.base_url)


def another_auth(api: Api, node: NodeService, secret_path: Path, **changes: Any) -> Auth:
    """An Auth on the same node and database as the served one, with ``changes``."""
    options: dict[str, Any] = {
        "sessions": node.sessions, "ledger": node.ledger, "department": DEPARTMENTS[0],
        "node_address": node.sender.account.address, "domain": api.auth.domain, "chain_id": api.auth.chain_id,
        "secret_path": secret_path}
    return Auth(**{**options, **changes})


def sign(account: LocalAccount, message: str) -> str:
    return Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)


def message_for(api: Api, account: LocalAccount, *, nonce: str | None = None, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "domain": api.auth.domain, "address": account.address, "uri": api.base_url, "chain_id": api.auth.chain_id,
        "nonce": nonce or api.http.get("/auth/nonce").json()["nonce"],
        "issued_at": datetime.now(timezone.utc) - timedelta(seconds=5),
    }
    return siwe_message(**{**fields, **changes})


def sign_in(api: Api, account: LocalAccount, **changes: Any) -> httpx.Response:
    message = message_for(api, account, **changes)
    return api.http.post("/auth/siwe", json={"message": message, "signature": sign(account, message)})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthenticated(response: httpx.Response, says: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert says in response.json()["error"]["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


# ---------------------------------------------------------------- Sign-In with Ethereum


def test_nonces_are_fresh_random_and_not_cached(api: Api) -> None:
    first, second = api.http.get("/auth/nonce"), api.http.get("/auth/nonce")
    nonces = {first.json()["nonce"], second.json()["nonce"]}
    assert len(nonces) == 2
    assert all(len(n) >= 16 and n.isalnum() and n.isascii() for n in nonces)
    assert first.headers["Cache-Control"] == "no-store"


def test_consumer_signs_in_and_gets_the_consumer_role(api: Api, suite: Suite) -> None:
    consumer = suite.accounts[7]
    response = sign_in(api, consumer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["roles"], body["address"], body["department"], body["token_type"]) == (
        ["consumer"], consumer.address, None, "bearer")
    me = api.http.get("/auth/me", headers=bearer(body["token"])).json()
    assert me == {"address": consumer.address, "roles": ["consumer"], "department": None, "kind": "siwe",
                  "subject": consumer.address, "staff_role": None}
    assert api.http.get("/only/consumer", headers=bearer(body["token"])).status_code == 200


def test_auditor_signs_in_and_reaches_auditor_routes(api: Api, suite: Suite) -> None:
    response = sign_in(api, suite.accounts[9], expiration=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["auditor"]
    assert api.http.get("/only/auditor", headers=bearer(response.json()["token"])).status_code == 200


def test_replayed_message_is_refused_while_its_session_is_still_valid(api: Api, suite: Suite) -> None:
    message = message_for(api, suite.accounts[7])
    body = {"message": message, "signature": sign(suite.accounts[7], message)}
    first = api.http.post("/auth/siwe", json=body)
    assert first.status_code == 200
    assert_unauthenticated(api.http.post("/auth/siwe", json=body), "used already")
    assert api.http.get("/auth/me", headers=bearer(first.json()["token"])).status_code == 200


def test_a_nonce_signs_in_once_even_in_another_message(api: Api, suite: Suite) -> None:
    nonce = api.http.get("/auth/nonce").json()["nonce"]
    assert sign_in(api, suite.accounts[7], nonce=nonce).status_code == 200
    assert_unauthenticated(sign_in(api, suite.accounts[9], nonce=nonce), "used already")


def test_the_same_message_sent_twice_at_once_signs_in_once(api: Api, suite: Suite) -> None:
    message = message_for(api, suite.accounts[7])
    body = {"message": message, "signature": sign(suite.accounts[7], message)}
    start = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        with httpx.Client(base_url=api.base_url, timeout=30) as http:
            start.wait(timeout=10)
            statuses.append(http.post("/auth/siwe", json=body).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 401]


@pytest.mark.parametrize(("changes", "says"), [
    ({"expiration": datetime.now(timezone.utc) - timedelta(seconds=1)}, "expired"),
    ({"domain": "evil.example:8000"}, "is for evil.example:8000"),
    ({"chain_id": 1}, "chain 1"),
    ({"nonce": "NeverIssuedByThisNode0"}, "not issued by this node"),
    ({"not_before": datetime.now(timezone.utc) + timedelta(hours=1)}, "not valid yet"),
    ({"issued_at": datetime.now(timezone.utc) + timedelta(hours=1)}, "in the future"),
], ids=["expired", "wrong-domain", "wrong-chain", "unknown-nonce", "not-before", "issued-in-future"])
def test_sign_in_message_not_for_now_or_here_is_refused(api: Api, suite: Suite, changes: dict[str, Any],
                                                         says: str) -> None:
    assert_unauthenticated(sign_in(api, suite.accounts[7], **changes), says)


def test_expired_nonce_is_refused(api: Api, node: NodeService, suite: Suite) -> None:
    # Signed with the served node's key, but already past its expiry.
    stale = another_auth(api, node, node.settings.data_dir / "session.key", nonce_lifetime=-1).new_nonce().nonce
    assert_unauthenticated(sign_in(api, suite.accounts[7], nonce=stale), "expired")


def test_message_signed_by_another_key_is_refused(api: Api, suite: Suite) -> None:
    message = message_for(api, suite.accounts[7])
    response = api.http.post("/auth/siwe", json={"message": message, "signature": sign(suite.accounts[10], message)})
    assert_unauthenticated(response, "not signed by its address")


def test_edited_message_is_refused(api: Api, suite: Suite) -> None:
    message = message_for(api, suite.accounts[7])
    signature = sign(suite.accounts[7], message)
    edited = message.replace("Sign in", "Sign-in")
    assert_unauthenticated(api.http.post("/auth/siwe", json={"message": edited, "signature": signature}))


def test_address_with_no_role_is_forbidden(api: Api, suite: Suite) -> None:
    response = sign_in(api, suite.accounts[10])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("message", ["hello", "127.0.0.1 wants you to sign in with your Ethereum account:\n0x0"],
                         ids=["prose", "truncated"])
def test_malformed_message_is_refused(api: Api, message: str) -> None:
    response = api.http.post("/auth/siwe", json={"message": message, "signature": "0x" + "11" * 65})
    assert_unauthenticated(response, "malformed")


def test_sign_in_body_of_the_wrong_shape_is_invalid_input(api: Api) -> None:
    for body in ({"message": "", "signature": "0x" + "11" * 65}, {"message": "x" * 5000, "signature": "0x"},
                 {"message": "hello"}):
        response = api.http.post("/auth/siwe", json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_input"


def test_signature_that_is_not_one_is_refused(api: Api, suite: Suite) -> None:
    message = message_for(api, suite.accounts[7])
    assert api.http.post("/auth/siwe", json={"message": message, "signature": "0x1234"}).status_code == 422
    off_curve = "0x" + "ff" * 64 + "1b"
    assert_unauthenticated(api.http.post("/auth/siwe", json={"message": message, "signature": off_curve}))


# ---------------------------------------------------------------- department staff


def test_staff_sign_in_acts_for_the_nodes_department(api: Api, node: NodeService) -> None:
    response = api.http.post("/auth/staff", json={"username": "reviewer.li", "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["roles"], body["department"], body["address"]) == (
        ["department"], DEPARTMENTS[0], node.sender.account.address)
    token = body["token"]
    assert api.http.get("/auth/me", headers=bearer(token)).json()["subject"] == "reviewer.li"
    assert api.http.get("/only/department", headers=bearer(token)).status_code == 200
    assert api.http.get("/only/coordinator", headers=bearer(token)).status_code == 403
    assert (node.settings.data_dir / "session.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("username", "password", "says"), [
    ("reviewer.li", "not the password at all", "wrong username or password"),
    ("nobody.here", STAFF_PASSWORD, "wrong username or password"),
    ("former.wang", STAFF_PASSWORD, "disabled"),
])
def test_staff_sign_in_is_refused(api: Api, username: str, password: str, says: str) -> None:
    response = api.http.post("/auth/staff", json={"username": username, "password": password})
    assert_unauthenticated(response, says)


def test_staff_on_the_coordinators_node_are_also_coordinator(api: Api, node: NodeService, suite: Suite,
                                                              tmp_path: Path) -> None:
    coordinator_node = another_auth(api, node, tmp_path / "session.key", node_address=suite.accounts[0].address)
    principal = coordinator_node.sign_in_staff("reviewer.li", STAFF_PASSWORD)
    assert principal.roles == {"department", "coordinator"}


def test_staff_accounts_need_a_good_username_and_a_long_password(node: NodeService) -> None:
    with node.sessions() as session:
        with pytest.raises(InvalidInput, match="username"):
            create_staff(session, "Bad Name", STAFF_PASSWORD, "viewer")
        with pytest.raises(InvalidInput, match="password"):
            create_staff(session, "short.password", "eleven char", "viewer")
        with pytest.raises(InvalidInput, match="role"):
            create_staff(session, "no.such.role", STAFF_PASSWORD, "superuser")
        with pytest.raises(AlreadyExists):
            create_staff(session, "reviewer.li", STAFF_PASSWORD, "viewer")
        stored = session.get(StaffAccount, "reviewer.li")
        assert stored is not None and STAFF_PASSWORD not in stored.password_hash


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("same password here"), hash_password("same password here")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("same password here", first)
    assert not check_password("same password Here", first)
    assert not check_password("same password here", "md5$whatever")


# ---------------------------------------------------------------- session tokens and roles


def test_no_token_is_unauthenticated_with_a_bearer_challenge(api: Api) -> None:
    assert_unauthenticated(api.http.get("/only/auditor"), "sign in first")
    assert_unauthenticated(api.http.get("/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}))


def test_tampered_token_is_refused(api: Api, suite: Suite) -> None:
    token = sign_in(api, suite.accounts[7]).json()["token"]
    header, payload, signature = token.split(".")
    for position in (0, len(header) + 1, len(header) + len(payload), len(token) - 1, len(token) - 2):
        flipped = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
        assert_unauthenticated(api.http.get("/auth/me", headers=bearer(flipped)))
    assert_unauthenticated(api.http.get("/auth/me", headers=bearer(f"{header}.{payload}")))
    assert_unauthenticated(api.http.get("/auth/me", headers=bearer("not.a.token")))


def test_token_signed_by_another_node_is_refused(api: Api, node: NodeService, tmp_path: Path) -> None:
    other = another_auth(api, node, tmp_path / "other.key", department=DEPARTMENTS[1])
    principal = Principal(node.sender.account.address, frozenset({"department"}), DEPARTMENTS[1], "staff", "x")
    assert_unauthenticated(api.http.get("/auth/me", headers=bearer(other.issue(principal).token)))


def test_expired_token_is_refused(api: Api, suite: Suite) -> None:
    auditor = suite.accounts[9].address
    principal = Principal(auditor, frozenset({"auditor"}), None, "siwe", auditor)
    expired = api.auth.issue(principal, lifetime=-60)
    assert_unauthenticated(api.http.get("/only/auditor", headers=bearer(expired.token)), "expired")
    assert api.http.get("/only/auditor", headers=bearer(api.auth.issue(principal).token)).status_code == 200


def test_consumer_token_on_an_auditor_route_is_forbidden(api: Api, suite: Suite) -> None:
    token = sign_in(api, suite.accounts[7]).json()["token"]
    response = api.http.get("/only/auditor", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_public_routes_see_who_calls_if_anyone(api: Api, suite: Suite) -> None:
    assert api.http.get("/public").json() == {"subject": None}
    token = sign_in(api, suite.accounts[7]).json()["token"]
    assert api.http.get("/public", headers=bearer(token)).json() == {"subject": suite.accounts[7].address}
    assert_unauthenticated(api.http.get("/public", headers=bearer(token + "x")))


def test_openapi_declares_the_bearer_scheme_errors_and_examples(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["session"] == {
        "type": "http", "scheme": "bearer", "description": "a token from POST /auth/siwe or POST /auth/staff"}
    siwe = spec["paths"]["/auth/siwe"]["post"]
    assert {"401", "403", "422"} <= siwe["responses"].keys()
    assert siwe["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert spec["paths"]["/auth/me"]["get"]["security"] == [{"session": []}]
    for name in ("NonceResponse", "SiweSignIn", "StaffSignIn", "TokenResponse", "PrincipalResponse"):
        assert spec["components"]["schemas"][name]["examples"], name
