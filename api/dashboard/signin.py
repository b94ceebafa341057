"""Signing a browser in: staff with their password, consumers and auditors with an injected
wallet (Sign-In with Ethereum through ``/auth/nonce`` and ``/auth/siwe``) or with a one-time
login link that ``provledger login`` asks for after signing in with the keystore."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth.service import Auth
from api.auth.siwe import siwe_message
from api.auth.tokens import Principal
from api.dashboard.links import LoginLinks
from api.dashboard.render import Pages
from api.dashboard.session import (
    PATH, PageRefused, Visitor, end_session, form_fields, local_path, same_origin, start_session, visitors,
)
from api.errors import ApiError, ErrorResponse, forbidden
from api.limits import TooManyRequests, staff_attempt

SIWE_LIFETIME = timedelta(minutes=10)
NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class LoginLinkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "url": "http://127.0.0.1:8000/dashboard/login#000000006813352ac3f1b2e04d9a5c7e"
               "abcdefabcdefabcdefabcdefabcdefabcdefabcd5b1e0f3c2a7d9e8b6c4a1f0e2d3c5b7a",
        "expires_at": "2025-05-01T08:02:00Z"}]})

    url: str = Field(description="open it in a browser: it signs that browser in as the caller, once")
    expires_at: datetime


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


async def _json_body(request: Request) -> dict[str, Any]:
    """The JSON object a page's script sent (at most 8 KiB, read as it streams)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > 8192:
            raise PageRefused(413, "Send a JSON object of at most 8 KiB.")
    try:
        sent = json.loads(body)
    except ValueError:
        sent = None
    if not isinstance(sent, dict):
        raise PageRefused(400, "Send a JSON object.")
    return sent


def _text(sent: dict[str, Any], name: str) -> str:
    value = sent.get(name)
    if not isinstance(value, str):
        raise PageRefused(400, f"Send the {name} as {{\"{name}\": ...}}.")
    return value


def router(auth: Auth, pages: Pages, links: LoginLinks) -> APIRouter:
    api = APIRouter(prefix=PATH, tags=["dashboard"])
    Visit = Annotated[Visitor, Depends(visitors(auth))]
    Form = Annotated[dict[str, str], Depends(form_fields)]
    Caller = Annotated[Principal, Depends(auth.require())]
    Then = Annotated[str | None, Query(alias="next", max_length=500)]

    def sign_in_page(request: Request, visitor: Visitor, *, status: int = 200, error: str | None = None,
                     then: str | None = None, username: str = "", headers: dict[str, str] | None = None
                     ) -> HTMLResponse:
        return pages.page(request, "sign_in.html", visitor, status=status, error=error, then=local_path(then),
                          username=username, api_url=_origin(request), headers=headers)

    def signed_in(request: Request, token: str, then: str) -> Response:
        response = RedirectResponse(then, status_code=303, headers=NO_REFERRER)
        start_session(response, request, token, auth.token_lifetime)
        return response

    @api.get("/sign-in", include_in_schema=False)
    def sign_in(request: Request, visitor: Visit, then: Then = None) -> HTMLResponse:
        return sign_in_page(request, visitor, then=then)

    @api.post("/sign-in", include_in_schema=False)
    def staff(request: Request, fields: Form) -> Response:
        username, password = fields.get("username", "").strip(), fields.get("password", "")
        try:
            if not 0 < len(username) <= 64 or not 0 < len(password) <= 1024:
                raise ApiError(401, "unauthenticated", "wrong username or password")
            with staff_attempt(request, username):
                principal = auth.sign_in_staff(username, password)
        except ApiError as err:
            return sign_in_page(request, Visitor(), status=401, error=err.message, then=fields.get("next"),
                                username=username[:64])
        except TooManyRequests as err:
            return sign_in_page(request, Visitor(), status=429, error=err.message, then=fields.get("next"),
                                username=username[:64], headers={"Retry-After": str(err.retry_after)})
        return signed_in(request, auth.issue(principal).token, local_path(fields.get("next")))

    @api.get("/siwe-message", include_in_schema=False)
    def siwe_text(request: Request, address: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
                  nonce: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{8,64}$")]) -> JSONResponse:
        """The EIP-4361 message for the wallet to sign: built here, so that the address is
        checksummed and every field is what ``/auth/siwe`` expects of this node."""
        now = datetime.now(timezone.utc)
        message = siwe_message(auth.domain, address, _origin(request), auth.chain_id, nonce, now, now + SIWE_LIFETIME)
        return JSONResponse({"message": message}, headers={"Cache-Control": "no-store"})

    @api.post("/session", include_in_schema=False)
    async def session(request: Request) -> JSONResponse:
        """Keep a token from ``/auth/siwe`` in the session cookie, where no script can read it."""
        same_origin(request)
        sent = await _json_body(request)
        token, then = _text(sent, "token"), sent.get("next")
        await run_in_threadpool(auth.session_of, token)  # may read the chain: off the event loop
        response = JSONResponse({"next": local_path(then if isinstance(then, str) else None)},
                                headers={"Cache-Control": "no-store"})
        start_session(response, request, token, auth.token_lifetime)
        return response

    @api.post("/sign-out", include_in_schema=False)
    def sign_out(request: Request, fields: Form) -> Response:
        response = RedirectResponse(f"{PATH}/sign-in", status_code=303)
        end_session(response, request)
        return response

    @api.post("/login-links", status_code=201, response_model=LoginLinkOut,
              responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
              summary="A one-time link that signs a browser in to the dashboard as the caller")
    def login_link(request: Request, who: Caller) -> LoginLinkOut:
        """For consumers and auditors signed in with Ethereum, whose browser has no wallet: the
        link works once, within two minutes. Its secret is in the fragment, which the browser
        keeps to itself: the page posts it. Staff sign in to the dashboard with their password."""
        if who.kind != "siwe":
            raise forbidden("staff sign in to the dashboard with their password")
        secret, expires_at = links.issue(who.address)
        return LoginLinkOut(url=f"{str(request.base_url).rstrip('/')}{PATH}/login#{secret}", expires_at=expires_at)

    @api.get("/login", include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return pages.page(request, "login.html", Visitor(), headers=NO_REFERRER)

    @api.post("/login", include_in_schema=False)
    async def redeem(request: Request) -> JSONResponse:
        """Sign the browser in with the secret of a login link, posted by the link's page."""
        same_origin(request)
        secret = _text(await _json_body(request), "secret")
        address = await run_in_threadpool(links.redeem, secret)
        if address is None:
            raise ApiError(401, "unauthenticated", "This login link was used already, has expired, or was not made "
                                                   "by this node. Run provledger login again for a new one.")
        roles = await run_in_threadpool(auth.siwe_roles, address)
        if not roles:
            raise forbidden(f"{address} is no longer a consumer or an auditor of the consortium.")
        response = JSONResponse({"next": f"{PATH}/"}, headers=NO_REFERRER)
        start_session(response, request, auth.issue(Principal(address, roles, None, "siwe", address)).token,
                      auth.token_lifetime)
        return response

    return api
