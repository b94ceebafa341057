"""``provledger``: the consortium from the command line, over the nodes' HTTP API.

    provledger up [--departments N] [--dir DIR]    a local chain, the contracts, N nodes and their APIs
    provledger demo                                 the whole story on a fresh local deployment, over HTTP
    provledger dataset register ... FILE            staff: register a dataset and upload its first version
    provledger request --dataset ID ...             consumer: ask for access (signed here, relayed by the node)
    provledger approve GRANT [--co-approve]         staff: approve a request, or co-approve as the coordinator
    provledger use GRANT [--out FILE] [--encrypt]   consumer: a delivery under the grant, decrypted here
    provledger statement check|acknowledge STMT     consumer: a statement checked against the chain, then acknowledged
    provledger trace DATASET [--verify]             auditor or staff: a dataset's history, verified complete on request
    provledger verify DATASET VERSION               a version's files against its anchored root, on the node
    provledger verify --file PATH --root 0x...      a local copy against a content root
    provledger login                                consumer or auditor: a one-time dashboard link for a browser
    provledger consortium up|down|status            a consortium of geth nodes on this machine
    provledger serve                                one node's API, from PROVLEDGER_* settings
    provledger staff add|list|disable|password|role the node's staff accounts, on its database (same settings)

``--api URL`` (PROVLEDGER_API) names the node. Staff sign in with ``--user``/``--password``
(PROVLEDGER_USER, PROVLEDGER_PASSWORD); consumers and auditors with ``--keystore``
(PROVLEDGER_KEYSTORE) and its passphrase (PROVLEDGER_PASSPHRASE, or asked), by Sign-In with
Ethereum. Exit status: 0 done; 1 refused or failed; 2 bad usage or bad input. Every error is
one line on stderr; progress bars go to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import hashlib
import importlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO, TypeVar

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from tqdm import tqdm
from web3 import Web3

from api import redact
from api.auth import siwe_message
from ledger import ids
from ledger.clients import Action
from ledger.compile import PROJECT_ROOT, load_artifact
from ledger.hashing import content_root, delivery_evidence
from node.access.delivery.crypto import decrypt_stream, public_key_of
from node.errors import DecryptionFailed, InvalidInput
from node.fields import FieldClass, id_check_character
from node.formats import format_of
from node.models import STAFF_ROLES
from node.quality.rules import Rule
from node.catalog.register import canonical_hash
from node.access.settlement import chain_terms

if TYPE_CHECKING:
    from api.local import LocalDeployment

T = TypeVar("T")
HASH32 = re.compile(r"0x[0-9a-fA-F]{64}")
RELAY_GAS = 800_000
"""Gas for a consumer's relayed call: well above requestAccess and acknowledgeStatement."""
DAY = 86400

# ---------------------------------------------------------------- errors and progress


class CliError(Exception):
    """A failure told in one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    """Bad usage or bad input: exit status 2."""

    def __init__(self, message: str, prog: str = "provledger") -> None:
        super().__init__(message, 2)
        self.prog = prog


class Refused(CliError):
    """The node answered with an error body; its 422 (bad input) exits 2, the rest 1."""

    def __init__(self, status_code: int, code: str, message: str, detail: dict[str, Any]) -> None:
        super().__init__(f"{status_code} {code}: {message}", 2 if status_code == 422 else 1)
        self.status_code = status_code
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Progress:
    """Progress bars on stderr; ``enabled=None`` shows them only when stderr is a terminal."""

    enabled: bool | None = None

    def bar(self, desc: str, total: float | None = None, unit: str = "B") -> Any:
        disable = None if self.enabled is None else not self.enabled
        return tqdm(desc=desc, total=total, unit=unit, unit_scale=unit == "B", unit_divisor=1024, leave=False,
                    file=sys.stderr, disable=disable, dynamic_ncols=True)

    def wait(self, desc: str, poll: Callable[[], T | None], *, timeout: float = 120.0, interval: float = 0.2) -> T:
        """Call ``poll`` until it gives something, showing the time waited so far."""
        deadline = time.monotonic() + timeout
        disable = None if self.enabled is None else not self.enabled
        with tqdm(desc=desc, bar_format="{desc}: {elapsed}", leave=False, file=sys.stderr, disable=disable) as bar:
            while True:
                found = poll()
                if found is not None:
                    return found
                if time.monotonic() > deadline:
                    raise CliError(f"timed out after {timeout:g} s waiting for {desc}")
                bar.update()
                time.sleep(interval)


# ---------------------------------------------------------------- one node's API


class Api:
    """An HTTP client of one node, signed in once as staff or with Ethereum."""

    def __init__(self, url: str, progress: Progress | None = None, *, timeout: float = 90.0) -> None:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise UsageError(f"--api {url!r} is not an http(s) URL of a node")
        self.url = url.rstrip("/")
        self.progress = progress or Progress()
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.token: str | None = None
        self.roles: list[str] = []

    def __enter__(self) -> Api:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            error = dict(response.json()["error"])
            code, message = str(error.pop("code")), str(error.pop("message"))
        except (ValueError, KeyError, TypeError):
            code, message, error = "http_error", response.reason_phrase, {}
        raise Refused(response.status_code, code, message, error)

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """The JSON answer of one request; an error answer raises :class:`Refused`."""
        try:
            response = self.http.request(method, path, headers=self._headers(headers), **kwargs)
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        self._raise_for(response)
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        """The node's health: answered with 503 when it cannot record uses, with the same body."""
        try:
            response = self.http.get("/health")
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        if response.status_code != 503:
            self._raise_for(response)
        body: dict[str, Any] = response.json()
        return body

    def download(self, path: str, dst: BinaryIO, *, total: int | None, desc: str) -> str:
        """Stream ``path`` into ``dst`` with a progress bar; the sha256 of the bytes, 0x hex."""
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", path, headers=self._headers()) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for(response)
                with self.progress.bar(desc, total) as bar:
                    for chunk in response.iter_bytes(1 << 20):
                        digest.update(chunk)
                        dst.write(chunk)
                        bar.update(len(chunk))
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        return "0x" + digest.hexdigest()

    # ------------------------------------------------------------ signing in

    def sign_in_staff(self, username: str, password: str) -> dict[str, Any]:
        body: dict[str, Any] = self.call("POST", "/auth/staff", json={"username": username, "password": password})
        self.token, self.roles = body["token"], body["roles"]
        return body

    def sign_in_siwe(self, account: LocalAccount) -> dict[str, Any]:
        """Sign-In with Ethereum: a fresh nonce, an EIP-4361 message for this node signed here."""
        chain_id = int(self.health()["chain_id"])
        nonce = str(self.call("GET", "/auth/nonce")["nonce"])
        now = datetime.now(timezone.utc)
        message = siwe_message(httpx.URL(self.url).netloc.decode(), account.address, self.url, chain_id, nonce, now,
                               now + timedelta(minutes=10))
        signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
        body: dict[str, Any] = self.call("POST", "/auth/siwe", json={"message": message, "signature": signature})
        self.token, self.roles = body["token"], body["roles"]
        return body

    # ------------------------------------------------------------ waiting for the chain

    def wait_write(self, write: dict[str, Any], desc: str, timeout: float = 120.0) -> dict[str, Any]:
        """Follow a chain write the node accepted until it is confirmed; raise if it failed."""

        def poll() -> dict[str, Any] | None:
            current: dict[str, Any] = self.call("GET", f"/writes/{write['id']}")
            if current["status"] == "failed":
                raise CliError(f"the chain write {current['key']} failed: {current.get('error')}")
            return current if current["status"] == "confirmed" else None

        return self.progress.wait(desc, poll, timeout=timeout)

    def settled(self) -> dict[str, Any] | None:
        """The node's health if it has nothing left to send and has indexed up to the head."""
        health = self.health()
        head, indexed = health["head"], health["indexed"]
        done = health["outbox_open"] == 0 and head is not None and indexed is not None and indexed >= head
        return health if done else None


def signed_call(api: Api, account: LocalAccount, contract: str, function: str, *args: Any) -> dict[str, Any]:
    """Sign ``contract.function(*args)`` with ``account`` here and have the node relay it."""
    params = api.call("GET", "/relay/params")
    try:
        abi = load_artifact(contract).abi
    except FileNotFoundError as err:
        raise CliError(str(err)) from err
    address = Web3.to_checksum_address(params["addresses"][contract])
    call = getattr(Web3().eth.contract(address=address, abi=abi).functions, function)(*args)
    tx = call.build_transaction({"chainId": params["chain_id"], "nonce": params["nonce"],
                                 "gasPrice": params["gas_price"], "gas": RELAY_GAS, "value": 0})
    signed = account.sign_transaction(tx)
    sent: dict[str, Any] = api.call("POST", "/relay", json={"raw_transaction": Web3.to_hex(signed.raw_transaction)})

    def mined() -> dict[str, Any] | None:
        current: dict[str, Any] = api.call("GET", sent["follow"])
        return None if current["status"] == "pending" else current

    done = api.progress.wait(f"{contract}.{function} to be mined", mined)
    if done["status"] != "success":
        raise CliError(f"{contract}.{function} reverted: {done.get('error')}")
    return done


# ---------------------------------------------------------------- what the commands do


def hash_locally(path: Path, progress: Progress) -> str:
    """``path``'s content root, as the nodes compute it, with a progress bar."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    with progress.bar(f"hashing {path.name}", sum(p.stat().st_size for p in files)) as bar:
        root = content_root(path, observe=lambda chunk: bar.update(len(chunk)))
    return "0x" + root.root.hex()


def upload_version(api: Api, dataset_id: str, path: Path) -> dict[str, Any]:
    """Stream ``path`` as a new version of ``dataset_id``; the node hashes it and queues its anchoring."""
    tabular = format_of(path)
    if tabular is None:
        raise UsageError(f"{path} is neither .csv nor .jsonl")
    fmt, media = tabular.kind, tabular.media_type

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f, api.progress.bar(f"uploading {path.name}", path.stat().st_size) as bar:
            while chunk := f.read(1 << 20):
                bar.update(len(chunk))
                yield chunk

    version: dict[str, Any] = api.call("PUT", f"/datasets/{dataset_id}/versions", params={"format": fmt},
                                       content=chunks(), headers={"Content-Type": media})
    return version


def trace_page(api: Api, dataset_id: str, *, after: int, limit: int, verify: bool) -> dict[str, Any]:
    page: dict[str, Any] = api.call("GET", f"/audit/datasets/{dataset_id}/trace",
                                    params={"after": after, "limit": limit, "verify": verify})
    return page


def trace(api: Api, dataset_id: str, *, verify: bool, limit: int = 100,
          complete: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every item of a dataset's trace, page after page, with a progress bar; with ``verify``,
    each page's completeness check is appended to ``complete``."""
    items: list[dict[str, Any]] = []
    after: int | None = 0
    with api.progress.bar("verifying trace" if verify else "reading trace", unit="item") as bar:
        while after is not None:
            page = trace_page(api, dataset_id, after=after, limit=limit, verify=verify)
            items += page["items"]
            if complete is not None and page.get("complete"):
                complete.append(page["complete"])
            bar.update(len(page["items"]))
            after = page["next_after"]
    return items


def wait_anchored(api: Api, dataset_id: str, root: str, timeout: float = 120.0) -> int:
    """Wait until the node has indexed the version with ``root`` from the chain; its block."""
    after = 0

    def poll() -> int | None:
        nonlocal after
        page = trace_page(api, dataset_id, after=after, limit=1000, verify=False)
        for item in page["items"]:
            after = item["id"]
            if item["name"] == "VersionAdded" and item["args"].get("contentRoot") == root:
                return int(item["block_number"])
        return None

    return api.progress.wait(f"anchoring {root[:10]}", poll, timeout=timeout)


def register_dataset(api: Api, path: Path, *, code: str, name: str, category: str, grade: int, interval: int,
                     field_classes: dict[str, str], rules: list[dict[str, Any]], key_fields: list[str],
                     wait: bool = True) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    """Register a dataset, set its rules, upload ``path`` as version 1 and (with ``wait``) wait
    until it is anchored: (dataset, version, block)."""
    root = hash_locally(path, api.progress)
    dataset: dict[str, Any] = api.call("POST", "/datasets", json={
        "code": code, "name": name, "category": category, "grade": grade, "update_interval": interval,
        "field_classes": field_classes, "key_fields": key_fields})
    if rules:
        api.call("PUT", f"/datasets/{dataset['dataset_id']}/quality-rules", json=rules)
    version = upload_version(api, dataset["dataset_id"], path)
    if version["content_root"] != root:
        raise CliError(f"the node computed the root {version['content_root']}, not {root} as here")
    block = wait_anchored(api, dataset["dataset_id"], root) if wait else None
    return dataset, version, block


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
    key = secrets.token_bytes(32)
    request = (bytes.fromhex(dataset_id[2:]), hashlib.sha256(purpose.encode()).digest(),
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
        evidence = "0x" + delivery_evidence(bytes.fromhex(delivery["delivery_id"][2:]), bytes.fromhex(received[2:])).hex()
        if evidence != delivery["evidence_hash"]:
            raise CliError(f"the bytes received give the evidence {evidence}, not the {delivery['evidence_hash']} recorded")
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


# ---------------------------------------------------------------- credentials and arguments


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _api(args: argparse.Namespace) -> Api:
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


def _staff(args: argparse.Namespace, api: Api) -> None:
    user = args.user or _env("PROVLEDGER_USER")
    if not user:
        raise UsageError("staff sign in: give --user or set PROVLEDGER_USER")
    api.sign_in_staff(user, _secret(args.password, "PROVLEDGER_PASSWORD", f"password of {user}: ", "--password"))


def _keystore(args: argparse.Namespace) -> LocalAccount:
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


def _auditor_or_staff(args: argparse.Namespace, api: Api) -> None:
    if args.keystore is None and (args.user or _env("PROVLEDGER_USER")):
        _staff(args, api)
    elif args.keystore is not None or _env("PROVLEDGER_KEYSTORE"):
        api.sign_in_siwe(_keystore(args))
    else:
        raise UsageError("sign in: give --user (staff) or --keystore (auditor)")


def _hash32(kind: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not HASH32.fullmatch(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a {kind} id (0x and 64 hex digits)")
        return value.lower()

    return parse


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    try:
        return ids.canonical_fields(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _at_least(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return number

    return parse


def _field_class(value: str) -> tuple[str, str]:
    name, sep, cls = value.partition("=")
    known = sorted(c.value for c in FieldClass)
    if not sep or not name or cls not in known:
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=CLASS with CLASS one of {', '.join(known)}")
    return name, cls


def _rule(value: str) -> dict[str, Any]:
    try:
        rule = json.loads(value)
        if not isinstance(rule, dict):
            raise ValueError("not a JSON object")
        Rule.from_json(rule)
    except (ValueError, InvalidInput) as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a quality rule: {err}") from None
    return rule


# ---------------------------------------------------------------- commands


def cmd_register(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if format_of(path) is None:
        raise UsageError(f"{path} is neither .csv nor .jsonl")
    with _api(args) as api:
        _staff(args, api)
        dataset, version, block = register_dataset(
            api, path, code=args.code, name=args.name, category=args.category, grade=args.grade,
            interval=args.interval, field_classes=dict(args.field_class), rules=list(args.rule),
            key_fields=list(args.key_field), wait=not args.no_wait)
    print(f"dataset {dataset['dataset_id']} registered by {dataset['owner_department']}")
    print(f"version {version['number']}: content root {version['content_root']}, {version['record_count']} records, "
          f"fields {','.join(version['schema'])}")
    print(f"anchored in block {block}" if block is not None else "anchoring queued")
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    account = _keystore(args)
    with _api(args) as api:
        api.sign_in_siwe(account)
        grant = request_access(api, account, args.dataset, purpose=args.purpose, fields=args.fields, uses=args.uses,
                               days=args.days)
    print(f"grant {grant} requested by {account.address}: waiting for the owner's review")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    with _api(args) as api:
        _staff(args, api)
        write = decide(api, args.grant, co_approve=args.co_approve, price=args.price, reason=args.reason,
                       wait=not args.no_wait)
    what = "co-approved" if args.co_approve else "approved"
    confirmed = write["status"] == "confirmed"
    where = f"confirmed in block {write['block_number']}" if confirmed else f"write {write['id']} queued"
    print(f"grant {args.grant} {what}: {where}")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    account = _keystore(args)
    with _api(args) as api:
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
    account = _keystore(args)
    with _api(args) as api:
        api.sign_in_siwe(account)
        body: dict[str, Any] = sent if sent is not None else api.call("GET", f"/statements/{args.statement}")["body"]
        checked = check_statement(api, body)
        print(f"statement {checked['statement_id']} holds against the chain: {checked['lines']} lines, "
              f"amount {checked['amount']}")
        if args.statement_command == "acknowledge":
            done = signed_call(api, account, "UsageLog", "acknowledgeStatement", chain_terms(body).as_tuple())
            print(f"acknowledged by {account.address}: tx {done['tx_hash']}, block {done['block_number']}")
    return 0


def print_trace(items: list[dict[str, Any]], out: TextIO | None = None) -> tuple[int, int]:
    """One line per trace item; (verified, failed) where items carry a verification."""
    verified = failed = 0
    for item in items:
        check = item.get("verification")
        mark = "" if check is None else "  verified" if check["ok"] else "  FAILED: " + "; ".join(check["problems"])
        verified += bool(check and check["ok"])
        failed += bool(check and not check["ok"])
        print(f"   block {item['block_number']:>5}  {item['contract']:<14} {item['name']:<22}{mark}", file=out)
    return verified, failed


def print_completeness(checks: list[dict[str, Any]], out: TextIO | None = None) -> bool:
    """Whether the trace is complete, from every page's check (each page compared its own span of
    the chain); prints the counts of the last and every difference found. False if no check came."""
    if not checks:
        print("completeness: the node did not report it", file=out)
        return False
    last, complete = checks[-1], all(c["ok"] for c in checks)
    print(f"trace {'complete' if complete else 'INCOMPLETE'} up to block {last['block_number']}: "
          f"{last['on_chain']} items on chain, {last['in_index']} in the index", file=out)
    for problem in dict.fromkeys(p for c in checks for p in c["problems"]):
        print(f"   {problem}", file=out)
    return complete


def cmd_trace(args: argparse.Namespace) -> int:
    with _api(args) as api:
        _auditor_or_staff(args, api)
        checks: list[dict[str, Any]] = []
        items = trace(api, args.dataset, verify=args.verify, limit=args.limit, complete=checks)
        print(f"trace of {args.dataset}: {len(items)} items")
        verified, failed = print_trace(items)
        complete = True
        if args.verify:
            print(f"{verified} items verified, {failed} failed")
            complete = print_completeness(checks)
        if args.prov is not None:
            with open(args.prov, "wb") as f:
                api.download(f"/audit/datasets/{args.dataset}/prov", f, total=None, desc="exporting PROV")
            print(f"PROV-JSON written to {args.prov}")
    return 1 if failed or not complete else 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.file is not None or args.root is not None:
        if args.file is None or args.root is None or args.dataset is not None:
            raise UsageError("verify a local copy with --file PATH --root 0x..., nothing else")
        if not args.file.exists():
            raise UsageError(f"no such file: {args.file}")
        root = hash_locally(args.file, Progress(False if args.no_progress else None))
        if root == args.root:
            print(f"{args.file} matches {root}")
            return 0
        print(f"{args.file} does NOT match: its root is {root}, not {args.root}")
        return 1
    if args.dataset is None or args.version is None:
        raise UsageError("verify DATASET VERSION, or verify --file PATH --root 0x...")
    with _api(args) as api:
        _auditor_or_staff(args, api)
        result = api.call("GET", f"/audit/datasets/{args.dataset}/versions/{args.version}/verification")
    if result["ok"]:
        print(f"version {args.version} of {args.dataset}: its files match the anchored root")
        return 0
    print(f"version {args.version} of {args.dataset}: " + "; ".join(result["problems"]))
    return 1


def cmd_login(args: argparse.Namespace) -> int:
    account = _keystore(args)
    with _api(args) as api:
        api.sign_in_siwe(account)
        link = api.call("POST", "/dashboard/login-links")
    print(link["url"])
    print(f"open it in a browser by {link['expires_at']}: it signs that browser in to the dashboard as "
          f"{account.address}, once", file=sys.stderr)
    return 0


def print_deployment(deployment: LocalDeployment, out: TextIO | None = None) -> None:
    print(f"   chain {deployment.chain_url} (anvil); contracts in {deployment.manifest_path}", file=out)
    for d in deployment.departments:
        role = " (also coordinator)" if d.coordinator else ""
        print(f"   {d.code:<18}{role:<19} {d.url}  docs {d.docs}", file=out)
        print(f"   {'':<18}{'':<19} staff {d.username} / {d.password}", file=out)
    people = [*deployment.consumers, *([deployment.auditor] if deployment.auditor else [])]
    for p in people:
        sponsor = f" sponsored by {p.sponsor}" if p.sponsor else ""
        print(f"   {p.label:<10} {p.address}{sponsor}\n   {'':<10} keystore {p.keystore}", file=out)
    print(f"   keystore passphrase: {deployment.passphrase} (also in {deployment.passphrase_path})", file=out)


def cmd_up(args: argparse.Namespace) -> int:
    from api.local import LocalDeployment

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_signal) if main_thread else None
    try:
        deployment = LocalDeployment(args.dir, departments=args.departments)
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        with deployment:
            print(f"provledger: {args.departments} department node(s) up", flush=True)
            print_deployment(deployment)
            first = deployment.departments[min(1, len(deployment.departments) - 1)]
            print(f"   e.g. export PROVLEDGER_API={first.url} PROVLEDGER_USER={first.username}")
            print("serving; Ctrl-C or SIGTERM stops everything", flush=True)
            while not stop.wait(0.5):
                if not deployment.alive:
                    raise CliError("an API server stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("stopped")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api.local import LocalDeployment

    progress = Progress(False if args.no_progress else None)
    print("== local deployment: anvil, the contracts, 3 department nodes serving their APIs", flush=True)
    started = time.monotonic()
    with LocalDeployment(args.dir) as deployment:
        print_deployment(deployment)
        ok = Story(deployment, progress).tell()
    print(f"\n{'story complete: every check held' if ok else 'story FAILED'} ({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


def cmd_consortium(args: argparse.Namespace) -> int:
    # scripts/ is no installed package: an installed `provledger` finds it in the checkout it came from.
    if (PROJECT_ROOT / "scripts" / "consortium.py").is_file() and str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))
    try:
        module = importlib.import_module("scripts.consortium")
    except ImportError as err:
        raise UsageError(f"the consortium scripts are not available here ({err})") from err
    code: int = module.main([args.action, *args.rest])
    return code


def cmd_serve(args: argparse.Namespace) -> int:
    from api.__main__ import main as serve

    return serve()


# ---------------------------------------------------------------- staff accounts, on the node's database


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


def cmd_staff(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api import staff
    from api.app import ApiSettings
    from node.db import make_engine, migrate, session_factory
    from node.errors import NodeError
    from node.settings import startup_error

    try:
        settings = ApiSettings()  # type: ignore[call-arg]
    except ValidationError as err:
        raise UsageError(f"the node's settings, as provledger serve reads them: {startup_error(err)}") from err
    password = _new_password(args) if args.staff_command in ("add", "password") else ""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sql_url)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            if args.staff_command == "list":
                for account in staff.list_staff(session):
                    state = "disabled" if account.disabled else "enabled"
                    print(f"{account.username}\t{account.role}\t{state}\t{account.created_at:%Y-%m-%d}")
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


# ---------------------------------------------------------------- the demo story

FIELDS = ("name", "id_number", "phone", "address", "visits")
CLASSES = {"name": "name", "id_number": "id_number", "phone": "mobile", "address": "address", "visits": "plain"}
RULES: list[dict[str, Any]] = [{"kind": "completeness", "fields": ["phone"]},
                               {"kind": "validity", "fields": ["id_number"]},
                               {"kind": "uniqueness", "fields": ["id_number"]}]
EXPECTED_EVENTS = ("DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "RequestCoApproved",
                   "GrantActivated", "UseRecorded", "UseRefused", "IssueOpened", "IssueReturned", "IssueRepaired",
                   "IssueClosed")


def _id_number(serial: int) -> str:
    """A resident ID number with a valid GB 11643 check digit."""
    body = f"11010119900307{serial:03d}"
    return body + id_check_character(body)


def _people(count: int, *, broken: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (f"Person {i}", _id_number(i), f"1380013{i:04d}", f"Beijing Dongcheng Jingshan {i}", str(i % 7))
        for i in range(count)]
    if broken:  # a wrong check digit, and a record entered twice
        rows[3] = rows[3][:1] + (rows[3][1][:-1] + ("0" if rows[3][1][-1] != "0" else "1"),) + rows[3][2:]
        rows[5] = rows[4]
    return rows


def _write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([FIELDS, *rows])
    return path


class Story:
    """The whole story against a :class:`LocalDeployment`, through its HTTP APIs only: the
    statistics bureau (also coordinator), the health commission (the owner), two consumers and
    the auditor. Each step prints what happened and checks what must hold."""

    def __init__(self, deployment: LocalDeployment, progress: Progress) -> None:
        self.d = deployment
        self.progress = progress
        self.folder = deployment.work_dir / "demo"
        self.failed: list[str] = []
        self._apis: list[Api] = []
        self.dataset_id = ""
        self.grants: list[str] = []
        self.consumers: list[Api] = []
        self.leaked = b""

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def check(self, ok: bool, text: str) -> bool:
        print(f"   {'ok' if ok else 'FAILED':<6} {text}", flush=True)
        if not ok:
            self.failed.append(text)
        return ok

    def api(self, url: str) -> Api:
        self._apis.append(Api(url, self.progress))
        return self._apis[-1]

    def tell(self) -> bool:
        try:
            for chapter in (self.sign_in_staff, self.register, self.request, self.review, self.co_approve,
                            self.deliver, self.quota, self.alerts, self.quality, self.settle, self.audit, self.leak):
                chapter()
        except CliError as err:
            self.check(False, f"the story stopped: {err}")
        finally:
            for api in self._apis:
                api.close()
        return not self.failed

    # ------------------------------------------------------------ chapters

    def sign_in_staff(self) -> None:
        self.step("department staff sign in to their own department's node")
        bureau, health = self.d.departments[0], self.d.departments[1]
        self.coordinator, self.owner = self.api(bureau.url), self.api(health.url)
        self.coordinator.sign_in_staff(bureau.username, bureau.password)
        self.owner.sign_in_staff(health.username, health.password)
        self.check(self.owner.roles == ["department"], f"{health.username}: roles {self.owner.roles}")
        self.check(set(self.coordinator.roles) == {"coordinator", "department"},
                   f"{bureau.username}: roles {self.coordinator.roles} (the bureau's node is also coordinator)")

    def register(self) -> None:
        self.step("the health commission registers a grade-3 dataset: CSV upload, field classes, quality rules")
        self.folder.mkdir(parents=True, exist_ok=True)
        v1 = _write_csv(self.folder / "visits-v1.csv", _people(40, broken=True))
        dataset, version, block = register_dataset(
            self.owner, v1, code="hospital-visits-2026", name="Hospital visits 2026", category="health", grade=3,
            interval=DAY, field_classes=CLASSES, rules=RULES, key_fields=["id_number"])
        self.dataset_id = dataset["dataset_id"]
        self.say(f"dataset {self.dataset_id}, grade {dataset['grade']}, owner {dataset['owner_department']}")
        self.say(f"version 1: content root {version['content_root']}, {version['record_count']} records")
        self.say("rules: " + "; ".join(f"{r['kind']}({', '.join(r['fields'])})" for r in RULES))
        self.check(block is not None, f"version 1 anchored on-chain in block {block}")

    def request(self) -> None:
        self.step("two consumers sign in with Ethereum and ask for access (they sign requestAccess, the node relays)")
        health = self.d.departments[1]
        for participant, uses in zip(self.d.consumers, (3, 5)):
            api = self.api(health.url)
            api.sign_in_siwe(participant.account)
            self.check(api.roles == ["consumer"], f"{participant.label} {participant.address} signed in: {api.roles}")
            grant = request_access(api, participant.account, self.dataset_id, purpose="public health study 2026",
                                   fields=["visits"], uses=uses, days=1)
            self.say(f"{participant.label} requests grant {grant}: 'visits' in the clear, {uses} downloads, 1 day")
            self.consumers.append(api)
            self.grants.append(grant)

    def _queued(self, api: Api, waiting_for: str) -> list[dict[str, Any]] | None:
        queue = [q for q in api.call("GET", "/review/queue") if q["grant_id"] in self.grants]
        return queue if {q["grant_id"] for q in queue if q["waiting_for"] == waiting_for} == set(self.grants) else None

    def review(self) -> None:
        self.step("the owner's staff see the requests in their review queue and approve them, at 5 per use")
        queue = self.progress.wait("the requests in the owner's queue", lambda: self._queued(self.owner, "owner"))
        for item in queue:
            self.say(f"waiting for the owner: {item['grant_id']} from {item['grantee']}, grade {item['grade']}")
        for grant in self.grants:
            write = decide(self.owner, grant, price=5, reason="public health study under the 2026 sharing agreement")
            self.say(f"approved {grant[:18]}...: chain write {write['id']} confirmed in block {write['block_number']}")
        try:
            self.owner.call("POST", f"/grants/{self.grants[0]}/co-approve", json={})
            refused: Refused | None = None
        except Refused as err:
            refused = err
        self.check(refused is not None and refused.status_code == 403, f"the owner may not co-approve: {refused}")

    def co_approve(self) -> None:
        self.step("the coordinator's staff (statistics bureau) see the grade-3 grants in their queue and co-approve")
        queue = self.progress.wait("the grants in the coordinator's queue",
                                   lambda: self._queued(self.coordinator, "coordinator"))
        self.say(f"{len(queue)} grants waiting for the coordinator")
        for grant in self.grants:
            write = decide(self.coordinator, grant, co_approve=True, reason="grade 3: co-approved")
            self.say(f"co-approved {grant[:18]}...: confirmed in block {write['block_number']}")

        def active() -> dict[str, Any] | None:
            mine = [g for g in self.consumers[0].call("GET", "/me/grants") if g["grant_id"] == self.grants[0]]
            return mine[0] if mine and mine[0]["status"] == "active" else None

        seen = self.progress.wait("the grant active on the owner's node", active)
        until = datetime.fromtimestamp(seen["expires_at"], timezone.utc).isoformat(timespec="seconds")
        self.check(True, f"consumer-1 sees its grant active: {seen['max_uses']} uses at "
                         f"{seen['price_per_use']} each, until {until}")

    def deliver(self) -> None:
        self.step("consumer-1 downloads a delivery: masked outside its grant, fingerprinted, encrypted to its key")
        c1, c2 = self.d.consumers
        copy = io.BytesIO()
        delivery = use_grant(self.consumers[0], c1.account, self.grants[0], copy, encrypt=True)
        self.say(f"delivery {delivery['delivery_id']}: {delivery['size']} bytes encrypted, "
                 f"recorded as use {delivery['evidence_hash']}")
        rows = list(csv.reader(io.StringIO(copy.getvalue().decode())))
        original = _people(40, broken=True)[0]
        self.say(f"decrypted here:   {','.join(rows[0])}")
        self.say(f"first row:        {','.join(rows[1])}")
        self.say(f"in the source:    {','.join(original)}")
        self.check(rows[0] == list(FIELDS) and len(rows) == 41, "40 records and the header")
        self.check(rows[1][4] == original[4], "'visits' in the clear, as granted")
        self.check(all(rows[1][i] != original[i] and "*" in rows[1][i] for i in range(4)),
                   "name, ID number, phone and address masked")
        self.leaked = copy.getvalue()
        other = io.BytesIO()
        use_grant(self.consumers[1], c2.account, self.grants[1], other, encrypt=False)
        self.check(other.getvalue() != self.leaked, "consumer-2's own copy is fingerprinted differently")

    def quota(self) -> None:
        self.step("uses beyond the quota are refused (consumer-1's grant allows 3 downloads)")
        c1 = self.d.consumers[0]
        for n in (2, 3):
            delivery = use_grant(self.consumers[0], c1.account, self.grants[0], io.BytesIO(), encrypt=False)
            self.say(f"use {n}: delivery {delivery['delivery_id'][:18]}..., {delivery['rows']} rows")
        try:
            use_grant(self.consumers[0], c1.account, self.grants[0], io.BytesIO(), encrypt=False)
            refused: Refused | None = None
        except Refused as err:
            refused = err
        self.check(refused is not None and refused.status_code == 403 and refused.code == "grant_refused",
                   f"use 4: {refused}")

    def alerts(self) -> None:
        self.step("the owner's monitor raises alerts from the usage events on the chain")

        def raised() -> list[dict[str, Any]] | None:
            found = [a for a in self.owner.call("GET", "/audit/alerts", params={"limit": 1000})
                     if a["dataset_id"] == self.dataset_id]
            return found if {"quota", "refused"} <= {a["kind"] for a in found} else None

        for alert in self.progress.wait("the quota and refusal alerts", raised):
            self.say(f"{alert['kind']:<8} {alert['severity']:<8} {alert['message']}")
        self.check(True, "quota reached and refused use both alerted")

    def _issue(self, issue_id: str, status: str) -> dict[str, Any] | None:
        found = [i for i in self.owner.call("GET", "/quality/issues") if i["issue_id"] == issue_id]
        return found[0] if found and found[0]["status"] == status else None

    def quality(self) -> None:
        self.step("quality: version 1 fails its rules -> an issue returns it to the source -> version 2 repairs it")
        owner, ds = self.owner, self.dataset_id
        report = owner.call("POST", f"/datasets/{ds}/versions/1/quality-check", json={"open_issue": True})
        failures = [r.get("detail", "") for r in report["report"].get("results", []) if not r.get("passed")]
        self.check(not report["passed"] and report["issue_id"] is not None,
                   "version 1 fails: " + "; ".join(str(f) for f in failures))
        issue_id = report["issue_id"]
        self.progress.wait("the issue returned to the source", lambda: self._issue(issue_id, "returned"))
        self.say(f"issue {issue_id} opened on-chain and returned to the health commission")
        v2 = _write_csv(self.folder / "visits-v2.csv", _people(40, broken=False))
        version = upload_version(owner, ds, v2)
        block = wait_anchored(owner, ds, version["content_root"])
        self.say(f"version 2 uploaded: content root {version['content_root']}, anchored in block {block}")
        repair = owner.call("POST", f"/quality/issues/{issue_id}/repair",
                            json={"version": 2, "note": "check digit and duplicate record fixed"})
        owner.wait_write(repair, "the repair")
        result = owner.call("POST", f"/quality/issues/{issue_id}/verification", json={"version": 2})
        self.check(result["passed"], "version 2 passes every rule")
        issue = self.progress.wait("the issue closed", lambda: self._issue(issue_id, "closed"))
        self.check(issue["repaired_version"] == 2, "the issue is closed on-chain, repaired by version 2")

    def settle(self) -> None:
        self.step("settlement: the owner's statement of consumer-1's uses, checked and acknowledged by the consumer")
        consumer, account = self.consumers[0], self.d.consumers[0].account

        def recorded() -> dict[str, int] | None:
            counts: dict[str, int] = {}
            for use in consumer.call("GET", "/me/uses", params={"limit": 1000}):
                if use["refused"] is None:
                    counts[use["grant_id"]] = counts.get(use["grant_id"], 0) + 1
            return counts if counts.get(self.grants[0]) == 3 else None

        counts = self.progress.wait("consumer-1's uses indexed", recorded)
        statement = self.owner.call("POST", "/statements", json={"consumer": account.address, "period_start": 0,
                                                                 "period_end": 1 << 40})
        for line in statement["body"]["lines"]:
            self.say(f"grant {line['grant_id'][:18]}...: {line['uses']} uses x {line['price_per_use']} "
                     f"= {line['amount']}")
        self.check(statement["amount"] == "15", f"statement {statement['statement_id'][:18]}...: {statement['amount']}")
        seen = consumer.call("GET", f"/statements/{statement['statement_id']}")
        body = seen["body"]
        self.progress.wait("the owner's acknowledgement on-chain", self.owner.settled)
        checked = check_statement(consumer, body)
        holds = (canonical_hash(body) == seen["statement_hash"] == checked["statement_hash"]
                 and all(line["uses"] == counts.get(line["grant_id"], 0) for line in body["lines"]))
        self.check(holds, "consumer-1 checks it against the chain: the owner's acknowledged hash, one line per grant "
                          "on the owner's datasets, each use and price as recorded, no overlapping period")
        done = signed_call(consumer, account, "UsageLog", "acknowledgeStatement", chain_terms(body).as_tuple())
        self.check(True, f"consumer-1 acknowledges the same terms (tx {done['tx_hash'][:18]}..., "
                         f"block {done['block_number']}): settled by both sides")

    def audit(self) -> None:
        self.step("the auditor signs in with Ethereum and traces the dataset, every item verified against the chain")
        auditor = self.api(self.d.departments[1].url)
        assert self.d.auditor is not None
        auditor.sign_in_siwe(self.d.auditor.account)
        self.check(auditor.roles == ["auditor"], f"auditor {self.d.auditor.address} signed in: {auditor.roles}")
        self.auditor = auditor
        self.progress.wait("the owner's node to index everything", self.owner.settled)
        checks: list[dict[str, Any]] = []
        items = trace(auditor, self.dataset_id, verify=True, complete=checks)
        verified, failed = print_trace(items)
        missing = [name for name in EXPECTED_EVENTS if name not in {i["name"] for i in items}]
        self.check(not missing, "registration, versions, request, approvals, uses, refusal and the quality loop"
                   + (f"; missing {missing}" if missing else ""))
        self.check(failed == 0 and verified == len(items), f"{verified} items verified, {failed} failed")
        self.check(bool(checks) and all(c["ok"] for c in checks),
                   f"complete: {checks[-1]['on_chain'] if checks else '?'} events on chain by topic, "
                   f"{checks[-1]['in_index'] if checks else '?'} in the index")
        for number in (1, 2):
            result = auditor.call("GET", f"/audit/datasets/{self.dataset_id}/versions/{number}/verification")
            self.check(result["ok"], f"version {number}'s files match the root anchored on-chain")
        prov = self.folder / "trace.prov.json"
        with open(prov, "wb") as f:
            auditor.download(f"/audit/datasets/{self.dataset_id}/prov", f, total=None, desc="exporting PROV")
        document = json.loads(prov.read_text())
        self.say(f"PROV-JSON: {prov} ({len(document.get('entity', {}))} entities, "
                 f"{len(document.get('activity', {}))} activities, {len(document.get('agent', {}))} agents)")
        consumer = self.d.consumers[0].address
        page = auditor.call("GET", f"/audit/consumers/{consumer}/trace", params={"limit": 1000, "verify": True})
        acks = [i for i in page["items"] if i["name"] == "StatementAcknowledged"]
        self.check(len(acks) == 2 and all(i["verification"]["ok"] for i in page["items"]) and page["complete"]["ok"],
                   f"consumer-1's trace: {len(page['items'])} items verified, the statement acknowledged by both sides")

    def leak(self) -> None:
        self.step("half of a copy leaks: the auditor asks the owner's node whose it was")
        half = self.leaked[: len(self.leaked) // 2]
        found = self.auditor.call("POST", "/audit/attributions", content=half, headers={"Content-Type": "text/csv"},
                                  params={"dataset_id": self.dataset_id, "format": "csv"})
        self.say(f"{len(half)} bytes -> delivery {found['delivery_id'][:18]}... of grant {found['grant_id'][:18]}...: "
                 f"{found['consumer']} (score {found['score']:.2f}, p-value {found['p_value']:.1e})")
        self.check(found["consumer"] == self.d.consumers[0].address and found["grant_id"] == self.grants[0]
                   and found["confident"], "attributed to consumer-1, with confidence")


# ---------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL", help="the node's API (default: $PROVLEDGER_API)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _staff_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="staff username (default: $PROVLEDGER_USER)")
    parser.add_argument("--password", help="staff password (default: $PROVLEDGER_PASSWORD, or asked)")


def _wallet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keystore", type=Path, metavar="PATH",
                        help="encrypted keystore (default: $PROVLEDGER_KEYSTORE); "
                             "its passphrase: $PROVLEDGER_PASSPHRASE, or asked")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="provledger", description="The provledger consortium from the command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="a local chain, the contracts, N department nodes and their APIs")
    up.add_argument("--departments", type=_at_least(1), default=3, metavar="N")
    up.add_argument("--dir", type=Path, help="keep the keystores, manifest and databases here (empty or new)")
    up.set_defaults(run=cmd_up)

    demo = commands.add_parser("demo", help="the whole story on a fresh local deployment, over HTTP")
    demo.add_argument("--dir", type=Path, help="keep the deployment's folder here (empty or new)")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(run=cmd_demo)

    dataset = commands.add_parser("dataset", help="datasets (staff)")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")
    register = dataset_commands.add_parser("register", help="register a dataset and upload its first version")
    register.add_argument("file", type=Path, metavar="FILE", help="the first version: a .csv or .jsonl file")
    register.add_argument("--code", required=True, help="short code, unique in the department")
    register.add_argument("--name", required=True)
    register.add_argument("--category", required=True)
    register.add_argument("--grade", required=True, type=int, choices=range(1, 5), help="sensitivity, 1 open .. 4")
    register.add_argument("--interval", required=True, type=_at_least(0), metavar="SECONDS",
                          help="expected seconds between versions; 0: none")
    register.add_argument("--field-class", type=_field_class, action="append", default=[], metavar="NAME=CLASS")
    register.add_argument("--key-field", action="append", default=[], metavar="NAME")
    register.add_argument("--rule", type=_rule, action="append", default=[], metavar="JSON",
                          help='a quality rule, e.g. \'{"kind": "validity", "fields": ["id_number"]}\'')
    register.add_argument("--no-wait", action="store_true", help="do not wait for the anchoring")
    for p in (register,):
        _connection(p)
        _staff_options(p)
    register.set_defaults(run=cmd_register)

    request = commands.add_parser("request", help="ask for access to a dataset (consumer)")
    request.add_argument("--dataset", required=True, type=_hash32("dataset"), metavar="ID")
    request.add_argument("--purpose", required=True, metavar="TEXT")
    request.add_argument("--fields", required=True, type=_names, metavar="NAME,...",
                         help="the fields asked for in the clear, by name, comma-separated (the catalog lists them); "
                              "'' for none: every personal field is then masked")
    request.add_argument("--uses", required=True, type=_at_least(1), metavar="N")
    request.add_argument("--days", required=True, type=_at_least(1), metavar="N")
    _connection(request)
    _wallet_options(request)
    request.set_defaults(run=cmd_request)

    approve = commands.add_parser("approve", help="approve a request, or co-approve it (staff)")
    approve.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    approve.add_argument("--price", type=_at_least(0), default=0, metavar="N", help="price per use")
    approve.add_argument("--reason", default="")
    approve.add_argument("--co-approve", action="store_true", help="as the coordinator (grades 3 and 4)")
    approve.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
    _connection(approve)
    _staff_options(approve)
    approve.set_defaults(run=cmd_approve)

    use = commands.add_parser("use", help="download a delivery under a grant (consumer)")
    use.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    use.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    use.add_argument("--encrypt", action="store_true", help="encrypted to the consumer's key, decrypted here")
    use.add_argument("--version", type=_at_least(1), metavar="N", help="default: the latest")
    _connection(use)
    _wallet_options(use)
    use.set_defaults(run=cmd_use)

    statement = commands.add_parser("statement", help="settlement statements (consumer)")
    statement_commands = statement.add_subparsers(dest="statement_command", required=True, metavar="COMMAND")
    for name, text in (("check", "check a statement against the chain, on the node"),
                       ("acknowledge", "check a statement, then acknowledge it with the consumer's key")):
        sub = statement_commands.add_parser(name, help=text)
        sub.add_argument("statement", metavar="STATEMENT",
                         help="its id (read from the node) or a JSON file holding it, as its department sent it")
        _connection(sub)
        _wallet_options(sub)
        sub.set_defaults(run=cmd_statement)

    trace_ = commands.add_parser("trace", help="a dataset's history (auditor or staff)")
    trace_.add_argument("dataset", type=_hash32("dataset"), metavar="DATASET")
    trace_.add_argument("--verify", action="store_true",
                        help="verify every item against the chain, and that none is missing (exit 1 if not)")
    trace_.add_argument("--prov", type=Path, metavar="FILE", help="also export the trace as PROV-JSON")
    trace_.add_argument("--limit", type=_at_least(1), default=100, metavar="N", help="items per page")
    verify = commands.add_parser("verify", help="files against an anchored root, on the node or here")
    verify.add_argument("dataset", nargs="?", type=_hash32("dataset"), metavar="DATASET")
    verify.add_argument("version", nargs="?", type=_at_least(1), metavar="VERSION")
    verify.add_argument("--file", type=Path, metavar="PATH", help="a local file or folder")
    verify.add_argument("--root", type=_hash32("content root"), metavar="0x...")
    for p in (trace_, verify):
        _connection(p)
        _staff_options(p)
        _wallet_options(p)
    trace_.set_defaults(run=cmd_trace)
    verify.set_defaults(run=cmd_verify)

    login = commands.add_parser("login", help="a one-time link signing a browser in to the dashboard "
                                              "(consumer or auditor)")
    _connection(login)
    _wallet_options(login)
    login.set_defaults(run=cmd_login)

    consortium = commands.add_parser("consortium", help="a consortium of geth nodes on this machine")
    consortium.add_argument("action", choices=("up", "down", "status"))
    consortium.add_argument("rest", nargs=argparse.REMAINDER, help="options of scripts.consortium")
    consortium.set_defaults(run=cmd_consortium)

    serve = commands.add_parser("serve", help="one node's API, from PROVLEDGER_* settings")
    serve.set_defaults(run=cmd_serve)

    staff = commands.add_parser("staff", help="the node's staff accounts, on its database (PROVLEDGER_* settings, "
                                              "as serve reads them)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="COMMAND")
    role_help = "admin: manages staff; reviewer: review decisions, freezes; steward: datasets, versions, quality; " \
                "viewer: reads"
    for name, text in (("add", "add a staff account"), ("list", "list the staff accounts and their roles"),
                       ("disable", "disable an account: it cannot sign in, and its sessions end"),
                       ("password", "give an account a new password: its sessions end"),
                       ("role", "give an account another role")):
        sub = staff_commands.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("username", metavar="USERNAME")
        if name == "add":
            sub.add_argument("--role", required=True, choices=STAFF_ROLES, help=role_help)
        if name == "role":
            sub.add_argument("role", choices=STAFF_ROLES, metavar="ROLE", help=role_help)
        if name in ("add", "password"):
            sub.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of standard input (else it is asked)")
        sub.set_defaults(run=cmd_staff)
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    redact.install()
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except UsageError as err:
        print(f"{err.prog}: error: {_one_line(str(err))}", file=sys.stderr)
        return err.status
    except CliError as err:
        print(f"provledger: {_one_line(str(err))}", file=sys.stderr)
        return err.status
    except OSError as err:  # a file or folder named on the command line
        print(f"provledger: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        print("provledger: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
