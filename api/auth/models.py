"""The bodies of the ``/auth`` routes, with the examples the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.auth.siwe import siwe_message
from api.auth.tokens import Kind
from api.errors import ErrorResponse



class NonceResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"nonce": "q8Fz3LkR0vYb2WxN7hTa", "expires_at": "2025-05-01T08:10:00Z"}]})

    nonce: str = Field(description="put it in the Nonce field of the message; it works once")
    expires_at: datetime


class SiweSignIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message": siwe_message("127.0.0.1:8000", "0x" + "ab" * 20, "http://127.0.0.1:8000", 31337,
                                "q8Fz3LkR0vYb2WxN7hTa", datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc)),
        "signature": "0x" + "1b" * 65}]})

    message: str = Field(min_length=1, max_length=4096, description="the EIP-4361 message, exactly as signed")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="its personal_sign signature")


class StaffSignIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"username": "reviewer.li", "password": "correct horse battery staple"}]})

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "eyJhbGciOiJIUzI1NiIs...In0.eyJpc3MiOi...fQ.k3Xc9...", "token_type": "bearer", "expires_at": "2025-05-01T09:00:00Z",
        "roles": ["consumer"], "address": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "department": None}]})

    token: str = Field(description="send it as 'Authorization: Bearer <token>'")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    roles: list[str]
    address: str
    department: str | None


class PrincipalResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "address": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "roles": ["auditor"], "department": None,
        "kind": "siwe", "subject": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "staff_role": None}]})

    address: str
    roles: list[str]
    department: str | None
    kind: Kind
    subject: str
    staff_role: str | None = Field(description="staff only: what the account may do on this node: admin, "
                                               "reviewer, steward or viewer")


UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no session, or a bad or expired one"}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "signed in, but without the role this needs"}}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "the request body is malformed"}}
