"""Session tokens (:mod:`api.auth.tokens`): a JWT only this node's key and name make, checked
for its algorithm, signature, issuer, audience, expiry and claims. The same refusals over HTTP,
against a deployed node, are in ``tests/adversarial/test_sessions.py``."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt
import pytest

from api.auth.tokens import Principal, TokenKey
from api.errors import ApiError

NODE = "provledger:health:0x" + "ab" * 20
STAFF = Principal("0x" + "ab" * 20, frozenset({"department"}), "health", "staff", "reviewer.li",
                  staff_role="reviewer", epoch=3)


def key() -> TokenKey:
    return TokenKey(secrets.token_bytes(32), NODE)


def issued(tokens: TokenKey, principal: Principal = STAFF, *, lifetime: int = 60) -> str:
    now = int(time.time())
    return tokens.encode(principal, issued_at=now, expires_at=now + lifetime)


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def refused(tokens: TokenKey, token: str, says: str) -> None:
    with pytest.raises(ApiError) as raised:
        tokens.decode(token)
    assert raised.value.status == 401 and says in raised.value.message


def test_a_token_gives_back_its_principal_and_names_the_node() -> None:
    tokens = key()
    token = issued(tokens)
    assert tokens.decode(token) == STAFF
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = claims_of(token)
    assert (claims["iss"], claims["aud"], claims["sub"]) == (NODE, NODE, "reviewer.li")
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"] != claims_of(issued(tokens))["jti"]


def test_alg_none_is_refused() -> None:
    tokens = key()
    unsigned = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims_of(issued(tokens)))}."
    refused(tokens, unsigned, "not valid")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the forger's choice, not ours
def test_another_algorithm_with_the_same_key_is_refused() -> None:
    tokens = key()
    other = jwt.encode(claims_of(issued(tokens)), tokens.key, algorithm="HS512")
    refused(tokens, other, "not valid")


def test_a_token_signed_with_another_nodes_key_is_refused() -> None:
    refused(key(), issued(key()), "not valid")


def test_a_token_naming_another_node_is_refused() -> None:
    tokens = key()
    refused(tokens, issued(TokenKey(tokens.key, "provledger:transport:0x" + "cd" * 20)), "not valid")


def test_an_expired_token_is_refused() -> None:
    tokens = key()
    refused(tokens, issued(tokens, lifetime=-1), "expired")


def test_a_changed_claim_is_refused() -> None:
    tokens = key()
    header, _, signature = issued(tokens).split(".")
    raised_roles = {**claims_of(issued(tokens)), "roles": ["auditor", "department"], "srole": "admin"}
    refused(tokens, f"{header}.{segment(raised_roles)}.{signature}", "not valid")


@pytest.mark.parametrize("change", [
    {"kind": "root"}, {"sep": "3"}, {"srole": "superuser"}, {"addr": 5}, {"roles": 7},
], ids=["kind", "epoch-as-text", "staff-role", "address", "roles"])
def test_a_well_signed_token_with_claims_of_the_wrong_shape_is_malformed(change: dict[str, Any]) -> None:
    tokens = key()
    forged = jwt.encode({**claims_of(issued(tokens)), **change}, tokens.key, algorithm="HS256")
    refused(tokens, forged, "malformed")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "iss", "aud", "sub"])
def test_a_token_missing_a_required_claim_is_refused(claim: str) -> None:
    tokens = key()
    claims = claims_of(issued(tokens))
    del claims[claim]
    refused(tokens, jwt.encode(claims, tokens.key, algorithm="HS256"), "not valid")


def test_a_checked_token_is_kept_until_it_expires_and_a_forged_one_never_is() -> None:
    now = [time.time()]
    tokens = TokenKey(secrets.token_bytes(32), NODE, clock=lambda: now[0])
    token = issued(tokens, lifetime=60)
    header, payload, signature = token.split(".")

    assert tokens.decode(token) == tokens.decode(token) == STAFF
    refused(tokens, f"{header}.{payload}.{signature[:-2]}AA", "not valid")
    refused(tokens, f"{header}.{segment({**claims_of(token), 'srole': 'admin'})}.{signature}", "not valid")
    now[0] = claims_of(token)["exp"]
    refused(tokens, token, "expired")
