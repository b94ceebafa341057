"""A consumer's own view and acts, and any party's: ``provledger grants``, ``uses``,
``withdraw`` (a request not yet decided), ``decrypt`` (a delivery downloaded encrypted),
``statement show``, and ``departments`` (the consortium's members by name)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.client import CliError, UsageError, signed_call
from api.cli.options import at_least, connection, emit, hash32, json_option, node_command, wallet_options
from api.cli.signin import auditor_or_staff_sign_in, connect, wallet
from ledger.clients import Action
from node.access.delivery.crypto import decrypt_stream
from node.errors import DecryptionFailed

if TYPE_CHECKING:
    from api.cli.options import SubCommands


def _own(args: argparse.Namespace, path: str, **params: int) -> tuple[str, list[dict[str, Any]]]:
    """The consumer's address, and what the node lists at ``path`` for it."""
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        return str(account.address), api.call("GET", path, params=params)


def cmd_grants(args: argparse.Namespace) -> int:
    address, grants = _own(args, "/me/grants")

    def text() -> None:
        print(f"{len(grants)} grant(s) of {address} on this node's datasets")
        for g in grants:
            print(f"   {g['grant_id']}  {g['status']:<9} dataset {g['dataset_id'][:18]}...  uses {g['uses']}/"
                  f"{g['max_uses']}  {', '.join(Action.names(g['actions'])) or 'no action'}, in the clear: "
                  f"{', '.join(g['fields']) or 'none'}"
                  + (f"; query grant, ε budget {g['epsilon_budget']} (provledger queries GRANT)"
                     if g.get("epsilon_budget") is not None else ""))

    emit(args, grants, text)
    return 0


def cmd_uses(args: argparse.Namespace) -> int:
    address, uses = _own(args, "/me/uses", after=args.after, limit=args.limit)

    def text() -> None:
        print(f"{len(uses)} use(s) and refused attempt(s) of {address}")
        for u in uses:
            outcome = f"REFUSED ({u['refused']})" if u["refused"] else f"use #{u['sequence']}"
            print(f"   {u['id']:>5}  block {u['block_number']:>6}  grant {u['grant_id'][:18]}...  {u['action']:<9} "
                  f"{outcome}")

    emit(args, uses, text)
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        done = signed_call(api, account, "AccessGrants", "withdraw", bytes.fromhex(args.grant[2:]))
    emit(args, done, lambda: print(f"grant {args.grant} withdrawn by {account.address}: tx {done['tx_hash']}, "
                                   f"block {done['block_number']}"))
    return 0


def cmd_decrypt(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"no such file: {source}")
    account = wallet(args)
    with open(source, "rb") as raw:
        try:
            if args.out is None:
                decrypt_stream(raw, sys.stdout.buffer, bytes(account.key))
                sys.stdout.flush()
            else:
                with open(args.out, "wb") as dst:
                    decrypt_stream(raw, dst, bytes(account.key))
        except DecryptionFailed as err:
            if args.out is not None:
                args.out.unlink(missing_ok=True)
            raise CliError(f"{source}: {err}") from err
    if args.out is not None:
        print(f"{source} decrypted into {args.out} with the key of {account.address}")
    return 0


def cmd_statement_show(args: argparse.Namespace) -> int:
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        statement: dict[str, Any] = api.call("GET", f"/statements/{args.statement}")

    def text() -> None:
        body = statement["body"]
        print(f"statement {statement['statement_id']}: {body['owner_department']} to {body['consumer']}, "
              f"amount {statement['amount']}, hash {statement['statement_hash']}")
        for line in body["lines"]:
            print(f"   grant {line['grant_id']}  {line['uses']} use(s) at {line['price_per_use']}: {line['amount']}")

    emit(args, statement, text)
    return 0


def cmd_departments(args: argparse.Namespace) -> int:
    with connect(args) as api:
        departments: list[dict[str, Any]] = api.call("GET", "/departments")

    def text() -> None:
        for d in departments:
            print(f"   {d['code']:<24} {d['name']}{'  (this node)' if d['this_node'] else ''}")

    emit(args, departments, text)
    return 0


def add_commands(commands: SubCommands, statement: SubCommands) -> None:
    """These commands, under ``provledger`` and its ``statement``."""
    grants = commands.add_parser("grants", help="the consumer's grants on the node's datasets (consumer)")
    grants.set_defaults(run=cmd_grants)
    uses = commands.add_parser("uses", help="the consumer's uses and refused attempts, oldest first (consumer)")
    uses.add_argument("--after", type=at_least(0), default=0, metavar="ID", help="those after this use id")
    uses.add_argument("--limit", type=at_least(1), default=100, metavar="N")
    uses.set_defaults(run=cmd_uses)
    withdraw = commands.add_parser("withdraw", help="withdraw a request not yet decided (consumer)")
    withdraw.add_argument("grant", type=hash32("grant"), metavar="GRANT")
    withdraw.set_defaults(run=cmd_withdraw)
    for sub in (grants, uses, withdraw):
        node_command(sub, wallet=True)

    decrypt = commands.add_parser("decrypt", help="decrypt a delivery downloaded encrypted (use --keep-encrypted) "
                                                  "with the consumer's key, here")
    decrypt.add_argument("file", type=Path, metavar="FILE")
    decrypt.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    wallet_options(decrypt)
    decrypt.set_defaults(run=cmd_decrypt)

    show = statement.add_parser("show", help="a statement as the node holds it (its consumer, staff or an auditor)")
    show.add_argument("statement", metavar="STATEMENT", type=hash32("statement"))
    node_command(show, staff=True, wallet=True)
    show.set_defaults(run=cmd_statement_show)

    departments = commands.add_parser("departments", help="the consortium's member departments by code and name "
                                                          "(no sign-in)")
    connection(departments)
    json_option(departments)
    departments.set_defaults(run=cmd_departments)

