"""The staff page, for a node's ``admin`` staff: the accounts with their roles, and forms to add
one, give one another role or a new password, or disable one (:mod:`api.staff` does the work,
as for ``/staff`` and ``provledger staff``)."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import staff
from api.auth.service import Auth
from api.dashboard.render import Pages
from api.dashboard.session import PATH, Visitor, checked_form, signed_in
from api.deps import DB
from api.errors import status_of
from node.errors import NodeError
from node.models import STAFF_ROLES, StaffAccount

Username = Annotated[str, Path(pattern=r"^[a-z0-9._-]{3,64}$")]
DONE = {"added": "Account added.", "role": "Role changed: it applies at once.",
        "password": "Password changed: the account's sessions have ended.",
        "disabled": "Account disabled: it cannot sign in, and its sessions have ended."}


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Admin = Annotated[Visitor, Depends(signed_in(auth, "department", staff="admin"))]
    AdminForm = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "department", staff="admin"))]

    def staff_page(request: Request, db: DB, visitor: Visitor, *, status: int = 200, error: str | None = None,
                   done: str | None = None) -> HTMLResponse:
        return pages.page(request, "staff.html", visitor, status=status, nav="staff", accounts=staff.list_staff(db),
                          roles=STAFF_ROLES, error=error, done=DONE.get(done or ""))

    def changed(request: Request, db: DB, visitor: Visitor, done: str, change: Callable[[], StaffAccount]) -> Response:
        try:
            account = change()
            db.commit()
        except NodeError as err:
            db.rollback()
            return staff_page(request, db, visitor, status=status_of(err), error=str(err))
        auth.staff.forget(account.username)
        return RedirectResponse(f"{PATH}/staff?done={done}", status_code=303)

    @api.get("/staff")
    def listed(request: Request, db: DB, visitor: Admin,
               done: Annotated[str, Query(max_length=16)] = "") -> HTMLResponse:
        return staff_page(request, db, visitor, done=done)

    @api.post("/staff")
    def add(request: Request, db: DB, form: AdminForm) -> Response:
        visitor, fields = form
        return changed(request, db, visitor, "added", lambda: staff.create_staff(
            db, fields.get("username", "").strip(), fields.get("password", ""), fields.get("role", "")))

    @api.post("/staff/{username}/{action}")
    def change(request: Request, username: Username, action: Literal["role", "password", "disable"], db: DB,
               form: AdminForm) -> Response:
        visitor, fields = form
        if action == "role":
            return changed(request, db, visitor, "role", lambda: staff.set_staff_role(db, username, fields.get("role", "")))
        if action == "password":
            return changed(request, db, visitor, "password",
                           lambda: staff.set_staff_password(db, username, fields.get("password", "")))
        return changed(request, db, visitor, "disabled", lambda: staff.disable_staff(db, username))

    return api
