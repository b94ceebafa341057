"""The node's staff accounts: made, listed, disabled and given a new password or role, by the
operator (``provledger staff``, on the node's database) or by an ``admin`` over the API.

Each function works in the caller's session and leaves the commit to it. A change that could
lock the node's staff out is refused: the last enabled ``admin`` is neither disabled nor given
another role.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth.passwords import hash_password
from node.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from node.models import STAFF_ROLES, StaffAccount

USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024


def _checked_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def _checked_role(role: str) -> str:
    if role not in STAFF_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(STAFF_ROLES)}")
    return role


def _account(session: Session, username: str) -> StaffAccount:
    account = session.get(StaffAccount, username, with_for_update=True)
    if account is None:
        raise NotFound("staff account", username)
    return account


def _keep_an_admin(session: Session, account: StaffAccount, change: str) -> None:
    """Refuse ``change`` if it would leave no enabled admin."""
    if account.role != "admin" or account.disabled:
        return
    others = session.scalar(select(func.count()).select_from(StaffAccount).where(
        StaffAccount.role == "admin", StaffAccount.disabled.is_(False), StaffAccount.username != account.username))
    if not others:
        raise Conflict(f"staff account {account.username}", f"it is the last enabled admin: cannot {change} it")


def create_staff(session: Session, username: str, password: str, role: str) -> StaffAccount:
    """Add a staff account. Usernames are 3-64 of ``a-z 0-9 . _ -``; passwords 12 characters or more."""
    if not USERNAME.fullmatch(username):
        raise InvalidInput("username", "must be 3 to 64 characters of a-z, 0-9, '.', '_' and '-'")
    account = StaffAccount(username=username, password_hash=hash_password(_checked_password(password)),
                           role=_checked_role(role), disabled=False, session_epoch=0)
    if session.get(StaffAccount, username) is not None:
        raise AlreadyExists("staff account", username)
    session.add(account)
    session.flush()
    return account


def list_staff(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))


def disable_staff(session: Session, username: str) -> StaffAccount:
    """Disable an account: it cannot sign in, and its sessions end."""
    account = _account(session, username)
    if not account.disabled:
        _keep_an_admin(session, account, "disable")
        account.disabled = True
        account.session_epoch += 1
    session.flush()
    return account


def set_staff_password(session: Session, username: str, password: str) -> StaffAccount:
    """Give an account a new password; the sessions signed in with the old one end."""
    account = _account(session, username)
    account.password_hash = hash_password(_checked_password(password))
    account.session_epoch += 1
    session.flush()
    return account


def set_staff_role(session: Session, username: str, role: str) -> StaffAccount:
    """Give an account another role; its sessions go on with the new one."""
    account = _account(session, username)
    if _checked_role(role) != account.role:
        _keep_an_admin(session, account, f"make it a {role}")
        account.role = role
    session.flush()
    return account
