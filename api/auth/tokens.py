"""Who a request comes from (:class:`Principal`) and the session token that carries it: a JWT
(PyJWT), HS256 under the node's session key, naming the node as issuer and audience.

The key is 32 random bytes in the node's data directory (:func:`node.keyfiles.secret_file`), so
a node restart keeps tokens valid and deleting the key ends every session. Only HS256 is
accepted (``alg: none`` and every other algorithm are refused), with no leeway on ``exp``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from api.errors import unauthenticated
from node.models import STAFF_ROLES

ROLES = frozenset({"department", "coordinator", "consumer", "auditor"})
Kind = Literal["staff", "siwe"]
ALGORITHM = "HS256"
_REQUIRED = ["exp", "iat", "jti", "iss", "aud", "sub"]
_KEEP = 4096
"""Checked tokens kept at most; past it, those expired are dropped (all, if none is)."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: an address, its roles, and the department it acts for, if any."""

    address: str
    roles: frozenset[str]
    department: str | None
    kind: Kind
    subject: str
    """The staff username, or the address for Sign-In with Ethereum."""
    staff_role: str | None = None
    """Staff only: the account's role, as the database holds it now once the session is followed."""
    epoch: int = 0
    """Staff only: the account's session epoch when the token was issued."""


@dataclass(frozen=True)
class TokenKey:
    """What signs and checks one node's tokens: its key, and the name it gives itself in them."""

    key: bytes
    node: str
    """Issuer and audience of the node's tokens: its department and its account address."""
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    _checked: dict[str, tuple[int, Principal]] = field(default_factory=dict, init=False, compare=False, repr=False)
    """Tokens whose signature and claims were checked, with their expiry: a session sends the same
    token on every request, and checking it again (base64, HMAC, JSON, claims) was most of the
    cost of a request that reads nothing. Keyed by the whole token, signature included, so only a
    token this node signed is ever found here."""

    def encode(self, principal: Principal, *, issued_at: int, expires_at: int) -> str:
        claims: dict[str, Any] = {
            "iss": self.node, "aud": self.node, "sub": principal.subject, "iat": issued_at, "exp": expires_at,
            "jti": secrets.token_urlsafe(12), "addr": principal.address, "roles": sorted(principal.roles),
            "dept": principal.department, "kind": principal.kind}
        if principal.kind == "staff":
            claims |= {"srole": principal.staff_role, "sep": principal.epoch}
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)

    def decode(self, token: str) -> Principal:
        """The principal of a token this node signed and that has not expired; 401 otherwise."""
        checked = self._checked.get(token)
        if checked is not None:
            if checked[0] <= self.clock():  # as PyJWT, with no leeway: expired at ``exp``
                raise unauthenticated("the session token has expired")
            return checked[1]
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], audience=self.node, issuer=self.node,
                                leeway=0, options={"require": _REQUIRED})
        except jwt.ExpiredSignatureError as err:
            raise unauthenticated("the session token has expired") from err
        except jwt.InvalidTokenError as err:
            raise unauthenticated("the session token is not valid") from err
        principal = _principal(claims)
        if len(self._checked) >= _KEEP:
            now = self.clock()
            kept = {t: c for t, c in list(self._checked.items()) if c[0] > now}
            self._checked.clear()
            if len(kept) < _KEEP:
                self._checked.update(kept)
        self._checked[token] = (int(claims["exp"]), principal)
        return principal


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        principal = Principal(address=claims["addr"], roles=frozenset(claims["roles"]) & ROLES,
                              department=claims["dept"], kind=claims["kind"], subject=claims["sub"],
                              staff_role=claims.get("srole"), epoch=claims.get("sep", 0))
        well_formed = (isinstance(principal.address, str) and isinstance(principal.department, (str, type(None)))
                       and principal.kind in ("staff", "siwe") and type(principal.epoch) is int
                       and (principal.staff_role is None
                            or (principal.kind == "staff" and principal.staff_role in STAFF_ROLES)))
    except (KeyError, TypeError):
        well_formed = False
    if not well_formed:
        raise unauthenticated("the session token is malformed")
    return principal
