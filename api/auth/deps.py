"""The FastAPI dependencies of a node's sign-in: the signed-in principal of a request, with the
roles a route needs, held against the chain (and the staff database) on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth.tokens import ROLES, Principal
from api.errors import MAYBE_SIGNED_IN, SIGNED_IN, answers, unauthenticated
from api.sessions import WRITES
from node.models import STAFF_ROLES

if TYPE_CHECKING:
    from api.auth.service import Auth

BEARER = HTTPBearer(auto_error=False, scheme_name="session",
                    description="a token from POST /auth/siwe or POST /auth/staff")


def require(auth: Auth, *roles: str, staff: str | None = None) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the signed-in principal, with at least one of ``roles`` if any are
    named and still held on chain, and, if it is staff, an enabled account whose staff role
    allows ``staff`` (which a route open to the department or the coordinator must name): 401
    without a valid token, once a Sign-In with Ethereum session holds no role on chain, or once
    the staff account is disabled or its password changed; 403 without the role; 503 if the
    chain cannot confirm it."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    if staff is not None and staff not in STAFF_ROLES:
        raise ValueError(f"unknown staff role {staff!r}")
    if staff is None and {"department", "coordinator"} & set(roles):
        raise ValueError("a route open to staff names the staff role it needs: require(..., staff=...)")
    wanted = frozenset(roles)

    async def signed_in(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> Principal:
        if credentials is None:
            raise unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
        return await auth.held_session(credentials.credentials, wanted, request.method in WRITES, staff)

    return answers(signed_in, SIGNED_IN)


def optional(auth: Auth) -> Callable[..., Awaitable[Principal | None]]:
    """A dependency giving the principal if a token is sent, else None; a bad or ended session is still 401."""

    async def maybe_signed_in(
            credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> Principal | None:
        if credentials is None:
            return None
        return await auth.held_session(credentials.credentials, frozenset(), False, None)

    return answers(maybe_signed_in, MAYBE_SIGNED_IN, optional_sign_in=True)
