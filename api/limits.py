"""Rate limits on the API's open doors: signing in, nonces and what anyone may read without a
session, and on sending aggregate queries (each refused one is recorded on chain, so a consumer
probing a grant could otherwise fill blocks), counted per client address in moving windows (the
``limits`` library, in memory).

Which routes are doors is said once, in :data:`DOORS`; :func:`install` puts an ASGI middleware
in front of the app that answers a request past its door's limit with 429, a JSON error body and
``Retry-After``, before any route runs, and adds that 429 to each door's OpenAPI responses.
Failed staff sign-ins are also limited per username, from any address (:func:`staff_attempt`),
so that no one gets the node's scrypt for free by spreading guesses over many addresses, while
the account's own successful sign-ins never lock it out.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ApiError
from node.settings import NodeSettings

Door = Literal["sign_in", "nonce", "anonymous", "query"]

DOORS: Mapping[tuple[str, str], Door] = {
    ("POST", "/auth/siwe"): "sign_in",
    ("POST", "/auth/staff"): "sign_in",
    ("POST", "/dashboard/sign-in"): "sign_in",
    ("POST", "/dashboard/login"): "sign_in",
    ("POST", "/dashboard/session"): "sign_in",
    ("GET", "/auth/nonce"): "nonce",
    ("GET", "/catalog"): "anonymous",
    ("GET", "/catalog/dcat"): "anonymous",
    ("GET", "/catalog/{dataset_id}"): "anonymous",
    ("GET", "/open/{dataset_id}/content"): "anonymous",
    ("GET", "/health"): "anonymous",
    ("GET", "/departments"): "anonymous",
    ("POST", "/grants/{grant_id}/queries"): "query",
}
"""(method, route path) -> the door it is; an ``anonymous`` door counts only requests without
an ``Authorization`` header, the ``query`` door only those with one (a query without a session
is refused before anything is recorded), every other door counts every request. The dashboard's query form
posts through the query route in-process, under its visitor's address
(:mod:`api.dashboard.inprocess`), so the form is counted at the route's door."""

TOO_MANY: dict[str, Any] = {
    "description": "too many requests from this address: retry after the seconds in Retry-After",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


class TooManyRequests(Exception):
    """Refused by a rate limit; ``retry_after`` whole seconds until the window lets one more in."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def response(self) -> Response:
        """The answer, in the API's error shape (:mod:`api.errors`)."""
        return JSONResponse({"error": {"code": "rate_limited", "message": self.message,
                                       "retry_after": self.retry_after}},
                            status_code=429, headers={"Retry-After": str(self.retry_after)})


@dataclass(frozen=True)
class _Limit:
    item: RateLimitItem
    what: str


class RateLimits:
    """The node's limits, each a moving window per key, kept in this process's memory."""

    def __init__(self, settings: NodeSettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._doors: dict[Door | Literal["staff_user"], _Limit] = {
            "sign_in": _Limit(parse(settings.rate_sign_in), "sign-in attempts"),
            "nonce": _Limit(parse(settings.rate_nonce), "nonces"),
            "anonymous": _Limit(parse(settings.rate_anonymous), "requests without a session"),
            "query": _Limit(parse(settings.rate_query), "queries"),
            "staff_user": _Limit(parse(settings.rate_staff_user), "sign-in attempts for this username"),
        }

    def _hit(self, door: Door | Literal["staff_user"], key: str) -> None:
        limit = self._doors[door]
        if self._limiter.hit(limit.item, door, key):
            return
        reset = self._limiter.get_window_stats(limit.item, door, key).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise TooManyRequests(f"more than {limit.item.amount} {limit.what} per {limit.item.GRANULARITY.name}; "
                              f"retry in {retry_after} s", retry_after)

    def door(self, door: Door, client: str) -> None:
        """Count a request from ``client`` at ``door``; :class:`TooManyRequests` past its limit."""
        self._hit(door, client)

    def staff_user_open(self, username: str) -> None:
        """:class:`TooManyRequests` while the failed sign-ins for ``username`` are at their limit."""
        limit = self._doors["staff_user"]
        if not self._limiter.test(limit.item, "staff_user", username.strip().lower()):
            self._hit("staff_user", username.strip().lower())  # refused, with its Retry-After

    def staff_user_failed(self, username: str) -> None:
        """Count a failed staff sign-in for ``username``, whichever address it came from."""
        try:
            self._hit("staff_user", username.strip().lower())
        except TooManyRequests:
            pass  # this attempt is answered by its own failure; the next one is refused


def _pattern(path: str) -> re.Pattern[str]:
    """A route path's template as a regular expression: each ``{parameter}`` one path segment."""
    parts = re.split(r"(\{[^}]*\})", path)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts) + r"\Z")


class _Middleware:
    """Counts each request at its door before the app sees it."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits
        self.doors = [(method, _pattern(path), door) for (method, path), door in DOORS.items()]

    def _door(self, scope: Scope) -> Door | None:
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        for wanted, pattern, door in self.doors:
            if method == wanted and pattern.match(scope["path"]):
                return door
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            door = self._door(scope)
            anonymous = not any(name == b"authorization" for name, _ in scope["headers"])
            if door is not None and {"anonymous": anonymous, "query": not anonymous}.get(door, True):
                client = scope.get("client")
                try:
                    self.limits.door(door, client[0] if client else "unknown")
                except TooManyRequests as refused:
                    await refused.response()(scope, receive, send)
                    return
        await self.app(scope, receive, send)


@contextmanager
def staff_attempt(request: Request, username: str) -> Iterator[None]:
    """One staff sign-in for ``username``, under the limits :func:`install` put on the request's
    app (an app without them, such as a test's bare router, has none): refused with
    :class:`TooManyRequests` while the username's failed sign-ins are at their limit, and counted
    if it fails (a 401). Attempts running at once are each checked before any has failed, so a
    burst may pass the limit by the requests in flight; the per-address door bounds those."""
    limits: RateLimits | None = getattr(request.app.state, "limits", None)
    if limits is None:
        yield
        return
    limits.staff_user_open(username)
    try:
        yield
    except ApiError as refused:
        if refused.status == 401:
            limits.staff_user_failed(username)
        raise


def install(app: FastAPI, limits: RateLimits) -> None:
    """Limit the doors of ``app`` and declare their 429 in its OpenAPI document."""
    app.state.limits = limits
    app.add_middleware(_Middleware, limits=limits)

    async def refused(request: Request, err: Exception) -> Response:
        assert isinstance(err, TooManyRequests)
        return err.response()

    app.add_exception_handler(TooManyRequests, refused)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        declared = app.openapi_schema is not None
        schema = generate()
        for (method, path), _ in ([] if declared else DOORS.items()):
            operation = schema.get("paths", {}).get(path, {}).get(method.lower())
            if operation is not None:
                operation.setdefault("responses", {}).setdefault("429", TOO_MANY)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
