"""Access to a dataset: ``provledger request``, ``approve``, ``use`` and ``statement``."""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from eth_account.signers.local import LocalAccount

from api.cli.client import HASH32, Api, CliError, UsageError, signed_call
from api.cli.signin import connect, staff_sign_in, wallet
from ledger import ids
from ledger.clients import Action
from ledger.hashing import delivery_evidence
from node.access.delivery.crypto import decrypt_stream, public_key_of
from node.access.settlement import chain_terms
from node.chain import texts
from node.errors import DecryptionFailed, InvalidInput

DAY = 86400


def request_access(api: Api, account: LocalAccount, dataset_id: str, *, purpose: str, fields: list[str], uses: int,
                   days: int) -> str:
    """Ask for access to ``dataset_id`` with ``fields`` in the clear, by name: requested on-chain
    by the consumer itself; the grant's id is derived from the consumer and a fresh key."""
    entries = [e for e in api.call("GET", "/catalog") if e["dataset_id"] == dataset_id]
    if not entries or entries[0]["schema_hash"] is None:
        raise CliError(f"dataset {dataset_id} is not in this node's catalog with a version")
    unknown = sorted(set(fields) - set(entries[0]["fields"]))
    if unknown:
        raise UsageError(f"dataset {dataset_id} has no field {', '.join(unknown)} "
                       f"(its fields: {', '.join(entries[0]['fields'])})")
    try:
        texts.checked("purpose", purpose.strip(), max_bytes=texts.MAX_PURPOSE_BYTES)
    except InvalidInput as err:
        raise UsageError(str(err)) from err
    key = secrets.token_bytes(32)
    request = (bytes.fromhex(dataset_id[2:]), purpose.strip(),
               bytes.fromhex(entries[0]["schema_hash"][2:]), ids.canonical_fields(fields),
               Action.mask(Action.DOWNLOAD), days * DAY, uses)
    signed_call(api, account, "AccessGrants", "requestAccess", key, request)
    return "0x" + ids.grant_id(account.address, key).hex()


def decide(api: Api, grant_id: str, *, co_approve: bool = False, price: int = 0, reason: str = "",
           wait: bool = True) -> dict[str, Any]:
    """Approve a request (or co-approve it as the coordinator); with ``wait``, until confirmed."""
    if co_approve:
        write = api.call("POST", f"/grants/{grant_id}/co-approve", json={"reason": reason})
    else:
        write = api.call("POST", f"/grants/{grant_id}/approve", json={"reason": reason, "price_per_use": price})
    return api.wait_write(write, "co-approval" if co_approve else "approval") if wait else write


def use_grant(api: Api, account: LocalAccount, grant_id: str, dst: BinaryIO, *, encrypt: bool,
              version: int | None = None) -> dict[str, Any]:
    """A delivery under the grant into ``dst``: checked against its recorded hash, decrypted here."""
    body: dict[str, Any] = {"version": version}
    if encrypt:
        body["public_key"] = "0x" + public_key_of(bytes(account.key)).hex()
    delivery: dict[str, Any] = api.call("POST", f"/grants/{grant_id}/deliveries", json=body)
    with tempfile.TemporaryFile() as raw:
        received = api.download(delivery["download"], raw, total=delivery["size"], desc="downloading")
        delivery_id, digest = bytes.fromhex(delivery["delivery_id"][2:]), bytes.fromhex(received[2:])
        evidence = "0x" + delivery_evidence(delivery_id, digest).hex()
        if evidence != delivery["evidence_hash"]:
            raise CliError(f"the bytes received give the evidence {evidence}, "
                           f"not the {delivery['evidence_hash']} recorded")
        raw.seek(0)
        if delivery["encrypted"]:
            try:
                decrypt_stream(raw, dst, bytes(account.key))
            except DecryptionFailed as err:
                raise CliError(str(err)) from err
        else:
            shutil.copyfileobj(raw, dst)
    return delivery


def read_statement(source: str) -> dict[str, Any] | None:
    """The body of the statement in the JSON file ``source`` (the statement as the API gives it,
    or only its body, as a department sent it); None if ``source`` is a statement id instead."""
    if HASH32.fullmatch(source):
        return None
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source!r} is neither a statement id (0x and 64 hex digits) nor a file")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"{path} is not JSON: {err}") from err
    found = data.get("body", data) if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise UsageError(f"{path} holds no statement")
    return found


def check_statement(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    """The node's check of a statement against the chain; a statement that does not hold is
    refused (422, so exit status 2) with every problem named."""
    checked: dict[str, Any] = api.call("POST", "/statements/check", json={"body": body})
    return checked


def cmd_request(args: argparse.Namespace) -> int:
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        grant = request_access(api, account, args.dataset, purpose=args.purpose, fields=args.fields, uses=args.uses,
                               days=args.days)
    print(f"grant {grant} requested by {account.address}: waiting for the owner's review")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    with connect(args) as api:
        staff_sign_in(args, api)
        write = decide(api, args.grant, co_approve=args.co_approve, price=args.price, reason=args.reason,
                       wait=not args.no_wait)
    what = "co-approved" if args.co_approve else "approved"
    confirmed = write["status"] == "confirmed"
    where = f"confirmed in block {write['block_number']}" if confirmed else f"write {write['id']} queued"
    print(f"grant {args.grant} {what}: {where}")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        if args.out is None:
            delivery = use_grant(api, account, args.grant, sys.stdout.buffer, encrypt=args.encrypt,
                                 version=args.version)
            sys.stdout.flush()
            report = sys.stderr
        else:
            try:
                with open(args.out, "wb") as dst:
                    delivery = use_grant(api, account, args.grant, dst, encrypt=args.encrypt, version=args.version)
            except BaseException:
                args.out.unlink(missing_ok=True)
                raise
            report = sys.stdout
    print(f"delivery {delivery['delivery_id']}: {delivery['rows']} rows"
          f"{', decrypted' if delivery['encrypted'] else ''}{f' into {args.out}' if args.out else ''}; "
          f"recorded on-chain as {delivery['evidence_hash']}", file=report)
    return 0


def cmd_statement(args: argparse.Namespace) -> int:
    sent = read_statement(args.statement)
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        body: dict[str, Any] = sent if sent is not None else api.call("GET", f"/statements/{args.statement}")["body"]
        checked = check_statement(api, body)
        print(f"statement {checked['statement_id']} holds against the chain: {checked['lines']} lines, "
              f"amount {checked['amount']}")
        if args.statement_command == "acknowledge":
            done = signed_call(api, account, "UsageLog", "acknowledgeStatement", chain_terms(body).as_tuple())
            print(f"acknowledged by {account.address}: tx {done['tx_hash']}, block {done['block_number']}")
    return 0
