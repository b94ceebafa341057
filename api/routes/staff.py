"""Staff accounts, managed by the node's ``admin`` staff: list, add, disable, new password, new role.

Each change takes effect on the account's sessions at once on this node (they are held against
the account on every request): a disabled account's and an old password's sessions end.
"""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api import staff
from api.auth.service import Auth
from api.auth.tokens import Principal
from api.deps import DB
from api.errors import errors
from api.schemas.system import PasswordIn, RoleIn, StaffIn, StaffOut
from node.errors import Conflict
from node.models import StaffAccount

Username = Annotated[str, Path(pattern=r"^[a-z0-9._-]{3,64}$", examples=["reviewer.li"])]


def router(auth: Auth) -> APIRouter:
    api = APIRouter(prefix="/staff", tags=["staff"])
    Admin = Annotated[Principal, Depends(auth.require("department", staff="admin"))]

    def others_only(who: Principal, username: str) -> None:
        # An admin acting on its own account could end its own session or rights halfway
        # through; another admin, or the operator (`provledger staff`), changes it.
        if who.subject == username:
            raise Conflict(f"staff account {username}", "it is your own: another admin or the operator "
                                                        "(provledger staff) changes it")

    def changed(db: DB, account: StaffAccount) -> StaffAccount:
        db.commit()
        auth.staff.forget(account.username)
        return account

    @api.get("", response_model=list[StaffOut], summary="This node's staff accounts (never their passwords)")
    def listed(db: DB, who: Admin) -> list[StaffAccount]:
        return staff.list_staff(db)

    @api.post("", status_code=201, response_model=StaffOut, responses=errors(409), summary="Add a staff account")
    def add(body: StaffIn, db: DB, who: Admin) -> StaffAccount:
        return changed(db, staff.create_staff(db, body.username, body.password, body.role))

    @api.post("/{username}/disable", response_model=StaffOut, responses=errors(409),
              summary="Disable a staff account: it cannot sign in, and its sessions end")
    def disable(username: Username, db: DB, who: Admin) -> StaffAccount:
        others_only(who, username)
        return changed(db, staff.disable_staff(db, username))

    @api.put("/{username}/password", response_model=StaffOut, responses=errors(409),
             summary="Give a staff account a new password: its sessions end")
    def password(username: Username, body: PasswordIn, db: DB, who: Admin) -> StaffAccount:
        others_only(who, username)
        return changed(db, staff.set_staff_password(db, username, body.password))

    @api.put("/{username}/role", response_model=StaffOut, responses=errors(409),
             summary="Give a staff account another role: its sessions go on with it")
    def role(username: Username, body: RoleIn, db: DB, who: Admin) -> StaffAccount:
        others_only(who, username)
        return changed(db, staff.set_staff_role(db, username, body.role))

    return api
