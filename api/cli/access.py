"""Access to a dataset: ``provledger request``, ``approve``, ``use``, ``query`` and ``statement``."""

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
from eth_utils.crypto import keccak

from api.cli.catalog import catalog_entry
from api.cli.client import HASH32, Api, CliError, UsageError, signed_call
from api.cli.options import emit
from api.cli.queries import check_bounded_fields, privacy_terms
from api.cli.signin import connect, staff_sign_in, wallet
from ledger import ids
from ledger.clients import Action, PrivacyTerms
from ledger.hashing import delivery_evidence
from node.access.delivery.crypto import decrypt_stream, public_key_of
from node.access.settlement import chain_terms
from node.catalog.freshness import DAY
from node.chain import texts
from node.errors import DecryptionFailed, InvalidInput
from node.query import epsilon_micro


def request_access(api: Api, account: LocalAccount, dataset_id: str, *, purpose: str, fields: list[str], uses: int,
                   days: int, terms: PrivacyTerms | None = None) -> str:
    """Ask for access to ``dataset_id`` with ``fields`` in the clear, by name: requested on-chain
    by the consumer itself; the grant's id is derived from the consumer and a fresh key. With
    ``terms``, a query grant (``requestQueryAccess``): aggregate queries only, under those terms."""
    entry = catalog_entry(api, dataset_id)
    if entry["schema_hash"] is None:
        raise CliError(f"dataset {dataset_id} has no version yet")
    unknown = sorted(set(fields) - set(entry["fields"]))
    if unknown:
        raise UsageError(f"dataset {dataset_id} has no field {', '.join(unknown)} "
                       f"(its fields: {', '.join(entry['fields'])})")
    try:
        texts.checked("purpose", purpose.strip(), max_bytes=texts.MAX_PURPOSE_BYTES)
    except InvalidInput as err:
        raise UsageError(str(err)) from err
    if terms is not None:
        check_bounded_fields(dataset_id, entry, fields, terms)
    key = secrets.token_bytes(32)
    request = (bytes.fromhex(dataset_id[2:]), purpose.strip(),
               bytes.fromhex(entry["schema_hash"][2:]), ids.canonical_fields(fields),
               Action.mask(Action.DOWNLOAD if terms is None else Action.QUERY), days * DAY, uses)
    if terms is None:
        signed_call(api, account, "AccessGrants", "requestAccess", key, request)
    else:
        signed_call(api, account, "AccessGrants", "requestQueryAccess", key, request, terms.as_tuple())
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
              version: int | None = None, encoding: str = "utf-8", decrypt: bool = True) -> dict[str, Any]:
    """A delivery under the grant into ``dst``, in ``encoding`` ("source": the dataset's own, or
    "utf-8"): checked against its recorded hash, decrypted here (unless not ``decrypt``: the bytes
    as received, for ``provledger decrypt``)."""
    body: dict[str, Any] = {"version": version, "encoding": encoding}
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
        if delivery["encrypted"] and decrypt:
            try:
                decrypt_stream(raw, dst, bytes(account.key))
            except DecryptionFailed as err:
                raise CliError(str(err)) from err
        else:
            shutil.copyfileobj(raw, dst)
    return delivery


def epsilon_option(text: str) -> str:
    """``--epsilon``: ε as decimal text, checked here (exit 2) as the node checks it."""
    try:
        epsilon_micro(text)
    except InvalidInput as err:
        raise argparse.ArgumentTypeError(err.reason) from err
    return text.strip()


def query_grant(api: Api, grant_id: str, sql: str, *, epsilon: str, version: int | None = None) -> dict[str, Any]:
    """An aggregate query under the grant, released by the owner's node; its result checked
    against the hashes recorded on chain (the canonical JSON received, the normalised SQL)."""
    released: dict[str, Any] = api.call("POST", f"/grants/{grant_id}/queries",
                                        json={"sql": sql, "epsilon": epsilon, "version": version})
    for text, recorded in ((released["result_json"], "result_hash"), (released["normalised_sql"], "query_hash")):
        if "0x" + keccak(text.encode()).hex() != released[recorded]:
            raise CliError(f"the {recorded.split('_')[0]} received does not hash to the {released[recorded]} recorded")
    return released


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
    terms = _query_terms(args)
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        grant = request_access(api, account, args.dataset, purpose=args.purpose, fields=args.fields, uses=args.uses,
                               days=args.days, terms=terms)
    what = "query grant" if terms is not None else "grant"
    emit(args, {"grant_id": grant, "consumer": account.address, "dataset_id": args.dataset, "query": terms is not None},
         lambda: print(f"{what} {grant} requested by {account.address}: waiting for the owner's review"))
    return 0


def _query_terms(args: argparse.Namespace) -> PrivacyTerms | None:
    """The privacy terms of ``--query``, checked before anything is signed; the terms' options
    without ``--query`` are refused rather than dropped."""
    given = [f"--{name.replace('_', '-')}" for name in ("epsilon_budget", "epsilon_cap", "k")
             if getattr(args, name) is not None] + (["--bounds"] if args.bounds else [])
    if not args.query:
        if given:
            raise UsageError(f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --query")
        return None
    if args.epsilon_budget is None or args.epsilon_cap is None or args.k is None:
        raise UsageError("--query needs --epsilon-budget, --epsilon-cap and --k")
    return privacy_terms(budget=args.epsilon_budget, cap=args.epsilon_cap, k=args.k, bounds=args.bounds)


def cmd_approve(args: argparse.Namespace) -> int:
    with connect(args) as api:
        staff_sign_in(args, api)
        write = decide(api, args.grant, co_approve=args.co_approve, price=args.price, reason=args.reason,
                       wait=not args.no_wait)
    what = "co-approved" if args.co_approve else "approved"
    confirmed = write["status"] == "confirmed"
    where = f"confirmed in block {write['block_number']}" if confirmed else f"write {write['id']} queued"
    emit(args, write, lambda: print(f"grant {args.grant} {what}: {where}"))
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    if args.keep_encrypted and not args.encrypt:
        raise UsageError("--keep-encrypted goes with --encrypt")
    if args.json and args.out is None:
        raise UsageError("--json needs --out FILE: standard output holds the delivery")
    account = wallet(args)
    decrypt = not args.keep_encrypted
    with connect(args) as api:
        api.sign_in_siwe(account)
        if args.out is None:
            delivery = use_grant(api, account, args.grant, sys.stdout.buffer, encrypt=args.encrypt,
                                 version=args.version, encoding=args.encoding, decrypt=decrypt)
            sys.stdout.flush()
            report = sys.stderr
        else:
            try:
                with open(args.out, "wb") as dst:
                    delivery = use_grant(api, account, args.grant, dst, encrypt=args.encrypt, version=args.version,
                                         encoding=args.encoding, decrypt=decrypt)
            except BaseException:
                args.out.unlink(missing_ok=True)
                raise
            report = sys.stdout
    state = (", decrypted" if decrypt else ", still encrypted") if delivery["encrypted"] else ""
    emit(args, {**delivery, "out": str(args.out), "decrypted": delivery["encrypted"] and decrypt},
         lambda: print(f"delivery {delivery['delivery_id']}: {delivery['rows']} rows{state}, {delivery['encoding']} text"
                       f"{f' into {args.out}' if args.out else ''}; recorded on-chain as {delivery['evidence_hash']}",
                       file=report))
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        released = query_grant(api, args.grant, args.sql, epsilon=args.epsilon, version=args.version)

    def text() -> None:
        print("\t".join(released["columns"]))
        for row in released["rows"]:
            print("\t".join(str(value) for value in row))
        print(f"ε {released['epsilon']} spent over {released['rows_scanned']} rows; only groups whose noisy count "
              f"reached {released['release_threshold']} released; recorded on chain as query {released['query_hash']}, result "
              f"{released['result_hash']} (write {released['write']['id']})", file=sys.stderr)

    emit(args, released, text)
    return 0


def cmd_statement(args: argparse.Namespace) -> int:
    sent = read_statement(args.statement)
    account = wallet(args)
    with connect(args) as api:
        api.sign_in_siwe(account)
        body: dict[str, Any] = sent if sent is not None else api.call("GET", f"/statements/{args.statement}")["body"]
        checked = check_statement(api, body)
        done = None
        if args.statement_command == "acknowledge":
            done = signed_call(api, account, "UsageLog", "acknowledgeStatement", chain_terms(body).as_tuple())

    def text() -> None:
        print(f"statement {checked['statement_id']} holds against the chain: {checked['lines']} lines, "
              f"amount {checked['amount']}")
        if done is not None:
            print(f"acknowledged by {account.address}: tx {done['tx_hash']}, block {done['block_number']}")

    emit(args, {**checked, "acknowledged": done}, text)
    return 0
