"""One place turns errors into HTTP answers: a JSON body ``{"error": {"code", "message", ...}}``,
and declares them in the OpenAPI document.

Domain errors of ``node`` and ``ledger`` keep their meaning (not found -> 404, not permitted ->
403, a state that forbids the action -> 409, bad input -> 422, a node that cannot record now or
a chain read that failed -> 503 with ``Retry-After``); :class:`ApiError` carries the API's own
(401 for a missing or bad sign-in). Anything else is a 500 with no detail leaked.

Every status a route can answer with is declared in its OpenAPI responses, each where it
arises (:func:`document` gathers them): a dependency marked with :func:`answers` declares its
own on every route that uses it (a sign-in: 401, 403, 503; a rate limit: 429); a route that
takes parameters or a body declares 422, one with a JSON body 400, one with a path 404; a route
declares only what its own body raises, with ``responses=errors(...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import RouteContext, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import ContractError, LedgerError
from node.errors import (
    AlreadyExists, CannotRecord, Conflict, DecryptionFailed, DeliveryRefused, Gone, InvalidInput, LedgerPaused,
    NodeError, NotFound, NotPermitted, SourceTampered, StatementRefused, VersionPurged,
)
from node.supervision import CHAIN_FAILURES

log = logging.getLogger(__name__)

RETRY_AFTER = 5
"""Seconds a 503 asks the client to wait when the error does not say."""
CHAIN_AWAY = "the node cannot reach its chain now, so it records nothing: try again later"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(message)


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error the API answers with."""

    error: ErrorBody


# ---------------------------------------------------------------- declaring them

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
DESCRIPTIONS = {
    400: "the body cannot be read as JSON",
    401: "no session, or a bad, expired or ended one",
    403: "signed in, but without the role this needs",
    404: "what the path names does not exist here",
    409: "the state of the ledger or the node forbids it now",
    410: "what the path names was here and is no longer (a delivered copy past its retention; code "
         "version_purged: a version whose plaintext its owner purged)",
    413: "the request body is larger than this node accepts",
    422: "the request is malformed, or names something invalid",
    429: "too many requests from this client: wait as Retry-After says",
    503: "the node cannot do it now (its chain does not answer): try again later",
}
SIGNED_IN = {401: DESCRIPTIONS[401], 403: DESCRIPTIONS[403],
             503: "the chain cannot confirm the session's roles now: try again shortly"}
"""What a route needing a session may answer before its own body runs."""
MAYBE_SIGNED_IN = {401: "a session token is sent, but it is bad, expired or ended", 503: SIGNED_IN[503]}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the errors its own body raises."""
    return {code: {"model": ErrorResponse, "description": DESCRIPTIONS.get(code, "an error")} for code in codes}


def answers(dependency: F, statuses: Mapping[int, str], *, optional_sign_in: bool = False) -> F:
    """Mark ``dependency`` as answering with ``statuses`` (code: description) before the route
    runs; :func:`document` declares them on every route that depends on it. With
    ``optional_sign_in``, the route's security also allows no credentials at all."""
    dependency.__answers__ = dict(statuses)  # type: ignore[attr-defined]
    dependency.__optional_sign_in__ = optional_sign_in  # type: ignore[attr-defined]
    return dependency


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def operations(app: FastAPI) -> Iterator[RouteContext]:
    """Every route of ``app`` that serves an operation, as included (prefix, router dependencies)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(getattr(route, "dependant", None), Dependant) and route.methods:
            yield route


def _answered(route: RouteContext) -> tuple[dict[int, str], bool]:
    """The error statuses ``route`` may answer with before its body runs, and whether its
    sign-in is optional."""
    found: dict[int, str] = {}
    optional = False
    dependant: Dependant = route.dependant
    for call in _calls(dependant):
        found |= getattr(call, "__answers__", {})
        optional = optional or getattr(call, "__optional_sign_in__", False)
    if dependant.path_params:
        found.setdefault(404, DESCRIPTIONS[404])
    if route.body_field is not None:
        found.setdefault(400, DESCRIPTIONS[400])
    if (route.body_field is not None or dependant.query_params or dependant.path_params or dependant.header_params
            or dependant.cookie_params):
        found.setdefault(422, DESCRIPTIONS[422])
    return found, optional


def document(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document declare every status each route can answer with."""
    generate = app.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if documented and documented[-1] is schema:
            return schema
        error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        _, defined = models_json_schema([(ErrorResponse, "serialization")], ref_template=REF)
        for name, definition in defined["$defs"].items():
            schemas.setdefault(name, definition)
        for route in operations(app):
            if not route.include_in_schema:
                continue
            statuses, optional = _answered(route)
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                responses = operation.setdefault("responses", {})
                for status, description in statuses.items():
                    responses.setdefault(str(status), {"description": description})
                for status, response in responses.items():
                    # FastAPI's own 422 names its validation body; this API answers every error alike.
                    if status[0] in "45" and (status == "422" or "content" not in response):
                        response["content"] = error
                if optional and operation.get("security"):
                    operation["security"] = [{}, *operation["security"]]
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed(request: Request) -> str:
    """The methods of the request's path, for a 405's ``Allow``: those of the first path that
    matches it, as routing picks it (``/statements/check`` is not ``/statements/{id}``)."""
    routes = list(operations(request.app))
    path = next((r.path_format for r in routes if r.path_regex.match(request.scope["path"])), None)
    return ", ".join(sorted({m for r in routes if r.path_format == path for m in r.methods or ()}))


# ---------------------------------------------------------------- answering them


def _body(status: int, code: str, message: str, headers: dict[str, str] | None = None, **detail: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **detail}}, status_code=status, headers=headers)


def _translate(err: Exception) -> tuple[int, str, dict[str, Any]]:
    if isinstance(err, ApiError):
        return err.status, err.code, err.detail
    if isinstance(err, NotFound):
        return 404, "not_found", {"kind": err.kind}
    if isinstance(err, VersionPurged):
        return 410, "version_purged", {"kind": err.kind, "dataset_id": err.dataset_id, "version": err.number}
    if isinstance(err, Gone):
        return 410, "gone", {"kind": err.kind}
    if isinstance(err, NotPermitted):
        return 403, "forbidden", {}
    if isinstance(err, DeliveryRefused):
        return 403, "grant_refused", {"refusal": err.refusal.lower()}
    if isinstance(err, (AlreadyExists, Conflict)):
        return 409, "conflict", {}
    if isinstance(err, StatementRefused):
        return 422, "statement_refused", {"statement_id": err.statement_id, "problems": err.problems}
    if isinstance(err, InvalidInput):
        return 422, "invalid_input", {"field": err.field}
    if isinstance(err, DecryptionFailed):
        return 422, "unprocessable", {}
    if isinstance(err, ContractError):
        return 409, "refused_by_contract", {"contract_error": err.name}
    if isinstance(err, CHAIN_FAILURES):
        return 503, "chain_unavailable", {}
    if isinstance(err, LedgerPaused):
        return 503, "ledger_paused", {"reason": err.paused_for}
    if isinstance(err, CannotRecord):
        return 503, "cannot_record", {}
    if isinstance(err, SourceTampered):
        return 409, "source_tampered", {}
    return 500, "internal", {}


def status_of(err: Exception) -> int:
    """The HTTP status a domain error answers with, in the API and on the dashboard's pages alike."""
    return _translate(err)[0]


def install(app: FastAPI) -> None:
    async def domain(request: Request, err: Exception) -> JSONResponse:
        status, code, detail = _translate(err)
        if status >= 500 and status != 503:
            log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
            return _body(status, code, "internal error")
        if status == 503:
            # Failing closed for now: say when to come back; a chain failure's own text may name
            # the chain's URL, which is the node's business.
            message = str(err) if isinstance(err, (ApiError, CannotRecord)) else CHAIN_AWAY
            return _body(status, code, message, {"Retry-After": str(getattr(err, "retry_after", None) or RETRY_AFTER)},
                         **detail)
        return _body(status, code, str(err), {"WWW-Authenticate": "Bearer"} if status == 401 else None, **detail)

    async def http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed"}.get(err.status_code, "http_error")
        headers = dict(err.headers) if err.headers else {}
        if err.status_code == 405:  # Starlette names only the first route at the path
            headers["Allow"] = _allowed(request)
        return _body(err.status_code, code, str(err.detail), headers or None)

    async def validation(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return _body(422, "invalid_input", f"{where}: {first['msg']}", field=where)

    # Chain failures by their own classes too: a handler for Exception alone answers, but then
    # the server logs each as a crash.
    for kind in (ApiError, NodeError, LedgerError, *CHAIN_FAILURES):
        app.add_exception_handler(kind, domain)
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, domain)
    document(app)
