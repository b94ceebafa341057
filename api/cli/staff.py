"""``provledger staff add|list|disable|password|role``: the node's staff accounts, on its database."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from api.cli.client import UsageError
from api.cli.options import emit

if TYPE_CHECKING:
    from api.app import ApiSettings


def _new_password(args: argparse.Namespace) -> str:
    """The password from one line of standard input with ``--password-stdin``, else asked twice
    without echo; never from the command line, where other users of the machine could read it."""
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise UsageError("--password-stdin: standard input holds no password line")
        return password
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask the password on: give --password-stdin and write it to standard input")
    password = getpass.getpass(f"new password of {args.username}: ")
    if getpass.getpass("the same again: ") != password:
        raise UsageError("the two passwords differ")
    return password


def _folder_settings(directory: Path) -> ApiSettings:
    from api.app import ApiSettings
    from node.consortium.folder import FolderError, NodeFolder

    try:
        settings = NodeFolder.open(directory).settings(ApiSettings)
    except FolderError as err:
        raise UsageError(str(err)) from err
    return settings


def cmd_staff(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api import staff
    from api.app import ApiSettings
    from node.db import make_engine, migrate, session_factory
    from node.errors import NodeError
    from node.private import make_private
    from node.settings import startup_error

    try:
        settings = _folder_settings(args.dir) if args.dir is not None else ApiSettings()  # type: ignore[call-arg]
    except ValidationError as err:
        raise UsageError(f"the node's settings, as provledger serve reads them: {startup_error(err)}") from err
    password = _new_password(args) if args.staff_command in ("add", "password") else ""
    if settings.database_url is None:
        make_private(settings.data_dir)
    engine = make_engine(settings.sql_url)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            if args.staff_command == "list":
                accounts = staff.list_staff(session)

                def text() -> None:
                    for a in accounts:
                        state = "disabled" if a.disabled else "enabled"
                        print(f"{a.username}\t{a.role}\t{state}\t{a.created_at:%Y-%m-%d}")

                emit(args, [{"username": a.username, "role": a.role, "disabled": a.disabled,
                             "created_at": a.created_at.isoformat()} for a in accounts], text)
                return 0
            if args.staff_command == "add":
                account = staff.create_staff(session, args.username, password, args.role)
            elif args.staff_command == "disable":
                account = staff.disable_staff(session, args.username)
            elif args.staff_command == "password":
                account = staff.set_staff_password(session, args.username, password)
            else:
                account = staff.set_staff_role(session, args.username, args.role)
            session.commit()
    except NodeError as err:
        raise UsageError(str(err), f"provledger staff {args.staff_command}") from err
    finally:
        engine.dispose()
    print(f"staff account {account.username}: {account.role}, {'disabled' if account.disabled else 'enabled'}",
          file=sys.stderr)
    return 0
