"""How a command signs in to a node: staff by name and password, consumers and auditors by
Sign-In with Ethereum with a keystore; ``provledger login`` gives a browser the same."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.cli.client import Api, Progress, UsageError
from api.cli.options import emit


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def connect(args: argparse.Namespace) -> Api:
    """The node named by ``--api`` or PROVLEDGER_API, not yet signed in."""
    url = args.api or _env("PROVLEDGER_API")
    if not url:
        raise UsageError("give --api URL or set PROVLEDGER_API")
    return Api(url, Progress(False if args.no_progress else None))


def _secret(value: str | None, env: str, prompt: str, flag: str) -> str:
    secret = value or _env(env)
    if secret:
        return secret
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    raise UsageError(f"give {flag} or set {env}")


def staff_sign_in(args: argparse.Namespace, api: Api) -> None:
    """Sign in as staff: ``--user``/``--password`` or PROVLEDGER_USER/PROVLEDGER_PASSWORD, or asked."""
    user = args.user or _env("PROVLEDGER_USER")
    if not user:
        raise UsageError("staff sign in: give --user or set PROVLEDGER_USER")
    api.sign_in_staff(user, _secret(args.password, "PROVLEDGER_PASSWORD", f"password of {user}: ", "--password"))


def signed_in_staff(args: argparse.Namespace) -> Api:
    """The node's API client, signed in as the staff member the options name (closed on failure)."""
    api = connect(args)
    try:
        staff_sign_in(args, api)
    except BaseException:
        api.close()
        raise
    return api


def wallet(args: argparse.Namespace) -> LocalAccount:
    """The account in ``--keystore`` or PROVLEDGER_KEYSTORE, opened with PROVLEDGER_PASSPHRASE or asked."""
    path = args.keystore or _env("PROVLEDGER_KEYSTORE")
    if not path:
        raise UsageError("give --keystore PATH or set PROVLEDGER_KEYSTORE")
    keystore = Path(path)
    if not keystore.is_file():
        raise UsageError(f"no keystore file {keystore}")
    passphrase = _secret(None, "PROVLEDGER_PASSPHRASE", f"passphrase of {keystore}: ", "the passphrase")
    try:
        account: LocalAccount = Account.from_key(Account.decrypt(keystore.read_text(), passphrase))
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"cannot open the keystore {keystore}: {err}") from err
    return account


def auditor_or_staff_sign_in(args: argparse.Namespace, api: Api) -> None:
    """Sign in as staff when a user is given, else with the keystore (an auditor)."""
    if args.keystore is None and (args.user or _env("PROVLEDGER_USER")):
        staff_sign_in(args, api)
    elif args.keystore is not None or _env("PROVLEDGER_KEYSTORE"):
        api.sign_in_siwe(wallet(args))
    else:
        raise UsageError("sign in: give --user (staff) or --keystore (auditor)")


def cmd_login(args: argparse.Namespace) -> int:
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        link = api.call("POST", "/dashboard/login-links")
    if args.json:
        emit(args, link, lambda: None)
        return 0
    print(link["url"])
    print(f"open it in a browser by {link['expires_at']}: it signs that browser in to the dashboard as "
          f"{account.address}, once", file=sys.stderr)
    return 0
