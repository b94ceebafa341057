"""The browser's session: the API's own token in a cookie, and what guards forms sent with it.

The cookie holds the token :class:`api.auth.service.Auth` issues (same format, same key, same expiry);
it is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it)
and scoped to ``/dashboard``. Every POST of the dashboard is also checked twice against
cross-site forgery: its ``Origin`` (or, lacking one, its ``Referer``) must be this very origin,
and a form sent with a session must carry the session's form token, a hash of the session
token that only pages rendered for that session contain.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request, Response

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.errors import ApiError
from api.sessions import WRITES

COOKIE = "provledger_session"
PATH = "/dashboard"
MAX_FORM = 16 << 10


class SignInNeeded(Exception):
    """The page needs a session: the browser is sent to the sign-in page, then back to ``then``."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


class PageRefused(Exception):
    """A page or form the visitor may not have, or cannot send as it is: shown as an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def form_token(session_token: str) -> str:
    """The session's form token: it proves a form came from a page rendered for this session."""
    return hashlib.sha256(b"provledger dashboard form\x00" + session_token.encode()).hexdigest()


@dataclass(frozen=True)
class Visitor:
    """Who is looking: a principal with its session token, or nobody signed in."""

    principal: Principal | None = None
    token: str | None = None

    @property
    def form_token(self) -> str:
        return form_token(self.token) if self.token else ""

    def has(self, *roles: str) -> bool:
        return self.principal is not None and bool(self.principal.roles & set(roles))


def start_session(response: Response, request: Request, token: str, lifetime: float) -> None:
    response.set_cookie(COOKIE, token, max_age=int(lifetime), path=PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https")


def local_path(then: str | None, default: str = f"{PATH}/") -> str:
    """``then`` if it is a page of this dashboard, else ``default``: sign-in never redirects away."""
    if then and then.startswith(f"{PATH}/") and "//" not in then and "\\" not in then and then.isprintable():
        return then
    return default


def visitors(auth: Auth, *, on_chain: bool = True, staff: str | None = None) -> Callable[[Request], Visitor]:
    """A dependency giving the visitor with the roles it still holds on chain; a missing, bad,
    expired or ended session is nobody signed in, and a session the chain cannot confirm now,
    staff whose role does not allow ``staff``, or staff posting for a department that left, is
    refused with the reason. Without ``on_chain``, the visitor as its token names it, for pages
    that only show who is signed in."""

    def visitor(request: Request) -> Visitor:
        token = request.cookies.get(COOKIE)
        if not token:
            return Visitor()
        try:
            if not on_chain:
                return Visitor(auth.principal_of(token), token)
            return Visitor(auth.session_of(token, write=request.method in WRITES, staff=staff), token)
        except ApiError as err:
            if err.status == 401:
                return Visitor()
            raise PageRefused(err.status, err.message) from err

    return visitor


def signed_in(auth: Auth, *roles: str, staff: str | None = None) -> Callable[[Request], Visitor]:
    """A dependency giving a visitor signed in with one of ``roles`` (any role if none named)
    and, if staff, with a staff role allowing ``staff``."""
    visitor = visitors(auth, staff=staff)
    wanted = frozenset(roles)

    def check(request: Request) -> Visitor:
        found = visitor(request)
        if found.principal is None:
            query = f"?{request.url.query}" if request.url.query else ""
            raise SignInNeeded(request.url.path + query)
        if wanted and not found.principal.roles & wanted:
            raise PageRefused(403, f"This page is for the role {' or '.join(sorted(wanted))}; you are signed in as "
                                   f"{', '.join(sorted(found.principal.roles)) or 'no role'}.")
        return found

    return check


def same_origin(request: Request) -> None:
    """Refuse a POST that a page of another origin sent."""
    origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    sent_from = request.headers.get("origin")
    if sent_from is None:
        referer = request.headers.get("referer", "")
        ok = referer == origin or referer.startswith(origin + "/")
    else:
        ok = sent_from == origin
    if not ok:
        raise PageRefused(403, "This form was not sent from a page of this dashboard.")


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form from this origin (at most 16 KiB, 20 fields)."""
    same_origin(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise PageRefused(415, "The form must be sent URL-encoded.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise PageRefused(413, "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as err:
        raise PageRefused(400, "The form cannot be read.") from err
    return dict(pairs)


def checked_form(auth: Auth, *roles: str,
                 staff: str | None = None) -> Callable[[Request], Awaitable[tuple[Visitor, dict[str, str]]]]:
    """A dependency for forms sent with a session: the visitor (with one of ``roles`` and, if
    staff, a staff role allowing ``staff``) and the fields, once the origin and the session's
    form token are checked."""
    visitor = visitors(auth, staff=staff)
    wanted = frozenset(roles)

    async def check(request: Request) -> tuple[Visitor, dict[str, str]]:
        fields = await form_fields(request)
        found = visitor(request)
        if found.principal is None:
            raise PageRefused(401, "Your session has ended: sign in again, then send the form again.")
        if wanted and not found.principal.roles & wanted:
            raise PageRefused(403, f"This needs the role {' or '.join(sorted(wanted))}.")
        if not hmac.compare_digest(fields.get("form_token", ""), found.form_token):
            raise PageRefused(403, "This form is stale or was not made for your session; reload the page.")
        return found, fields

    return check
