"""One place turns errors into HTTP answers: a JSON body ``{"error": {"code", "message", ...}}``.

Domain errors of ``node`` and ``ledger`` keep their meaning (not found -> 404, not permitted ->
403, a state that forbids the action -> 409, bad input -> 422); :class:`ApiError` carries the
API's own (401 for a missing or bad sign-in). Anything else is a 500 with no detail leaked.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import ChainUnavailable, ContractError, LedgerError
from node.errors import (
    AlreadyExists, CannotRecord, Conflict, DecryptionFailed, DeliveryRefused, InvalidInput, NodeError, NotAttributable, NotFound,
    NotPermitted, SourceTampered, StatementRefused,
)

log = logging.getLogger(__name__)


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


def _body(status: int, code: str, message: str, headers: dict[str, str] | None = None, **detail: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **detail}}, status_code=status, headers=headers)


def _translate(err: Exception) -> tuple[int, str, dict[str, Any]]:
    if isinstance(err, ApiError):
        return err.status, err.code, err.detail
    if isinstance(err, NotFound):
        return 404, "not_found", {"kind": err.kind}
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
    if isinstance(err, (NotAttributable, DecryptionFailed)):
        return 422, "unprocessable", {}
    if isinstance(err, ContractError):
        return 409, "refused_by_contract", {"contract_error": err.name}
    if isinstance(err, ChainUnavailable):
        return 503, "chain_unavailable", {}
    if isinstance(err, CannotRecord):
        return 503, "cannot_record", {}
    if isinstance(err, SourceTampered):
        return 409, "source_tampered", {}
    return 500, "internal", {}


def install(app: FastAPI) -> None:
    async def domain(request: Request, err: Exception) -> JSONResponse:
        status, code, detail = _translate(err)
        if status >= 500 and status != 503:
            log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
            return _body(status, code, "internal error")
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _body(status, code, str(err), headers, **detail)

    async def http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
            err.status_code, "http_error")
        return _body(err.status_code, code, str(err.detail), dict(err.headers) if err.headers else None)

    async def validation(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return _body(422, "invalid_input", f"{where}: {first['msg']}", field=where)

    for kind in (ApiError, NodeError, LedgerError):
        app.add_exception_handler(kind, domain)
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, domain)
