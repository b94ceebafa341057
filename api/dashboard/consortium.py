"""The Consortium page, for everyone signed in: the members (name, code, validator, whether it
signs, service accounts), the proposals with their tally, deadline and voters, the consumers with
their sponsors and profiles, the auditors and coordinators, and the pause with its reason; with
the forms of the roles that may act (a member's ``admin`` staff: vote, execute, propose, sponsor a
consumer; the coordinator's admins: auditors, coordinators, pause and resume, close founding).

The page reads and acts through the node's own governance routes (``/consortium``, see
:mod:`api.routes.consortium`), called in-process with the visitor's session token
(:mod:`api.dashboard.inprocess`): every rule (the role on chain, the contract's refusals, the
pause) has its one home there, and the page shows the route's refusal in its words.
"""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth.service import Auth
from api.dashboard.inprocess import NodeRoutes, refusal_text
from api.dashboard.render import Pages
from api.dashboard.session import PATH, PageRefused, Visitor, checked_form, signed_in
from api.sessions import staff_allows

ACTIONS = re.compile(r"proposals|proposals/0x[0-9a-f]{64}/(vote|execute)|consumers|consumers/0x[0-9a-fA-F]{40}/remove|"
                     r"(auditors|coordinators|service-accounts)(/0x[0-9a-fA-F]{40}/remove)?|pause|resume|close-founding")
"""The governance writes a form of this page may send, by their path under ``/consortium``."""
FIELDS = {"proposals": ("kind", "code", "name", "validator", "service_account"),
          "consumers": ("address", "organisation", "contact", "purpose"), "remove": ("reason",),
          "auditors": ("address",), "coordinators": ("address",), "service-accounts": ("address",),
          "pause": ("reason",), "resume": ("reason",)}
"""The form fields each write takes into its JSON body, by the last word of its path."""
DONE = {"proposals": "Proposal sent", "vote": "Vote sent", "execute": "Execution sent", "consumers": "Consumer sent",
        "remove": "Removal sent", "auditors": "Appointment sent", "coordinators": "Appointment sent",
        "service-accounts": "Offer sent", "pause": "Pause sent", "resume": "Resume sent",
        "close-founding": "Closing of founding sent"}


def _body(action: str, fields: dict[str, str]) -> dict[str, str] | None:
    last = action.rsplit("/", 1)[-1]
    wanted = FIELDS.get(last)
    if wanted is None:
        return None
    body = {name: fields.get(name, "").strip() for name in wanted}
    if last == "proposals" and body["kind"] == "removal":
        body = {"kind": "removal", "code": body["code"]}
    return body


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Anyone = Annotated[Visitor, Depends(signed_in(auth))]
    AdminForm = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "department", staff="admin"))]

    async def page(request: Request, visitor: Visitor, *, status: int = 200, error: str | None = None,
                   done: str | None = None, write: int | None = None) -> HTMLResponse:
        read, state = await NodeRoutes(request, visitor).call("GET", "/consortium")
        if read != 200:
            raise PageRefused(read, refusal_text(read, state))
        principal = visitor.principal
        assert principal is not None
        admin = visitor.has("department") and principal.staff_role is not None \
            and staff_allows(principal.staff_role, "admin")
        return pages.page(request, "consortium.html", visitor, status=status, nav="consortium", state=state,
                          admin=admin, coordinator=admin and visitor.has("coordinator"), error=error,
                          done=DONE.get(done or ""), write=write)

    @api.get("/consortium")
    async def shown(request: Request, visitor: Anyone, done: Annotated[str, Query(max_length=20)] = "",
                    write: Annotated[int | None, Query(ge=1, lt=2**31)] = None) -> HTMLResponse:
        return await page(request, visitor, done=done, write=write)

    @api.post("/consortium/{action:path}")
    async def act(request: Request, action: str, form: AdminForm) -> Response:
        visitor, fields = form
        if not ACTIONS.fullmatch(action):
            raise PageRefused(404, "No such consortium action.")
        status, answer = await NodeRoutes(request, visitor).call("POST", f"/consortium/{action}",
                                                                 _body(action, fields))
        if status != 202:
            return await page(request, visitor, status=status if status >= 400 else 502, error=refusal_text(status, answer))
        done = quote(action.rsplit("/", 1)[-1])
        return RedirectResponse(f"{PATH}/consortium?done={done}&write={answer['id']}", status_code=303)

    return api
