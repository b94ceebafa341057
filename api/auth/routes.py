"""The ``/auth`` routes: a nonce, sign-in with Ethereum, staff sign-in, and who the session is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request, Response

from api.auth.models import (
    FORBIDDEN, INVALID, UNAUTHENTICATED, NonceResponse, PrincipalResponse, SiweSignIn, StaffSignIn, TokenResponse,
)
from api.auth.tokens import Principal
from api.limits import staff_attempt

if TYPE_CHECKING:
    from api.auth.service import Auth


def router(auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.get("/nonce", summary="A single-use nonce for a Sign-In with Ethereum message")
    def nonce(response: Response) -> NonceResponse:
        response.headers["Cache-Control"] = "no-store"
        return auth.new_nonce()

    @router.post("/siwe", summary="Sign in with an EIP-4361 message signed by the account",
                 responses={**UNAUTHENTICATED, **FORBIDDEN, **INVALID})
    def siwe(body: SiweSignIn, response: Response) -> TokenResponse:
        response.headers["Cache-Control"] = "no-store"
        return auth.issue(auth.sign_in_siwe(body.message, body.signature))

    @router.post("/staff", summary="Sign in as department staff of this node",
                 responses={**UNAUTHENTICATED, **INVALID})
    def staff(body: StaffSignIn, request: Request, response: Response) -> TokenResponse:
        response.headers["Cache-Control"] = "no-store"
        with staff_attempt(request, body.username):
            return auth.issue(auth.sign_in_staff(body.username, body.password))

    @router.get("/me", summary="Who the session token belongs to", responses=UNAUTHENTICATED)
    async def me(principal: Principal = Depends(auth.require())) -> PrincipalResponse:
        return PrincipalResponse(address=principal.address, roles=sorted(principal.roles),
                                 department=principal.department, kind=principal.kind, subject=principal.subject,
                                 staff_role=principal.staff_role)

    return router
