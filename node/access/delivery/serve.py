"""Serving a dataset version under a grant, and naming the source of a leaked copy.

A delivery goes out only after the checks of :mod:`node.access.delivery.checks` hold against the chain
at that moment (ledger not paused, dataset this department's and not frozen, version anchored,
source untampered, grant active for this consumer, consumer still registered), and one use of the
grant's quota is reserved under the grant's lock (uses on chain plus this node's uses not landed
yet). The version is then streamed through masking (read in the version's text encoding; fields
outside the grant's scope, by the dataset's field classes), fingerprinting (a copy no other
delivery has, written in the source's encoding or in UTF-8, as the consumer asks)
and, on request, encryption to the grantee's key, into a file; the receipt covers the delivery's
own random id and the hash of exactly those bytes; it is recorded on-chain as the use and
anchored with the other receipts.

A request the grant does not allow is refused with :class:`DeliveryRefused`, and still recorded
as an attempted use: the contract refuses and logs it, so the attempt is in the history too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast

import coincurve
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.clients import Action, AnchorKind, Refusal
from ledger.deploy import Ledger
from ledger.hashing import delivery_evidence
from node.chain.anchoring import add_item
from node.access.delivery import checks
from node.access.delivery.crypto import encrypt_stream
from node.access.delivery.leaks import Attribution, attribute
from node.access.delivery.masking import MaskPlan, mask_csv, mask_jsonl
from node.access.delivery.retention import key_id
from node.access.delivery.stamp import fingerprint_csv, fingerprint_jsonl
from node.errors import DeliveryRefused, InvalidInput, NotFound
from node.keyfiles import secret_file
from node.fields import FieldClass
from node.formats import FORMATS, Kind, kind_of
from node.models import Dataset, DatasetVersion, Delivery
from node.access.uses import UseRequest, queue_uses
from node.store import PLAIN, DataStore

_COPY_CHUNK = 1 << 20


def fingerprint_key(data_dir: Path) -> bytes:
    """The node's secret fingerprint key, made on first use and kept only readable by the node."""
    return secret_file(data_dir / "fingerprint.key")


def address_of_public_key(public_key: bytes) -> str:
    """The account address of a secp256k1 public key (65, 64 or 33 bytes)."""
    if len(public_key) == 64:
        public_key = b"\x04" + public_key
    try:
        point = coincurve.PublicKey(public_key).format(compressed=False)[1:]
    except ValueError as err:
        raise InvalidInput("public_key", "not a secp256k1 public key") from err
    return Web3.to_checksum_address(Web3.keccak(point)[-20:])


# ---------------------------------------------------------------- refusals


def _refuse(session: Session, grant_id: str, consumer: str, refused: tuple[Refusal, str]) -> DeliveryRefused:
    """Record the refused request as an attempted use (the contract refuses and logs it) and
    return the error to raise."""
    attempt = secrets.token_bytes(32)
    evidence = "0x" + hashlib.sha256(b"provledger refused delivery/" + consumer.encode() + attempt).hexdigest()
    queue_uses(session, [UseRequest("0x" + attempt.hex(), grant_id, Action.DOWNLOAD, evidence)])
    session.commit()
    return DeliveryRefused(grant_id, refused[0].name, refused[1])


# ---------------------------------------------------------------- the pipeline


def _masked_records(src: BinaryIO, kind: Kind, plan: MaskPlan, store: DataStore, scratch: Path,
                    encoding: str) -> Iterator[object]:
    """The records of the source (text in ``encoding``), masked, through UTF-8 ``scratch``: a
    file the store keeps (encrypted) while the copy is written, which the caller removes."""
    with src, store.create(scratch) as sink:
        (mask_csv if kind == "csv" else mask_jsonl)(iter(lambda: src.read(_COPY_CHUNK), b""), cast(BinaryIO, sink),
                                                    plan, encoding=encoding)
    with store.open(scratch) as masked:
        text = (line.decode() for line in masked)
        if kind == "csv":
            yield from csv.reader(text)
        else:
            yield from (json.loads(line) for line in text)


@dataclass(frozen=True)
class Request:
    grant_id: str
    consumer: str
    version: int | None = None
    """The version number; the latest when None."""
    encrypt_to: bytes | None = None
    """The consumer's secp256k1 public key, to encrypt the delivery to; it must be the grantee's."""
    encoding: Literal["source", "utf-8"] = "utf-8"
    """The copy's text encoding: the source version's (GBK stays GBK) or UTF-8."""


def deliver(session: Session, ledger: Ledger, *, department: str, key: bytes, out_dir: Path,
            request: Request, store: DataStore = PLAIN) -> Delivery:
    """Check against the chain that this delivery may go out (see :mod:`node.access.delivery.checks`),
    reserve one use of the grant's quota, then write the delivery for ``request.consumer`` into
    ``out_dir`` and queue its use; the returned row names the file and the receipt. The source is
    read, and the copy kept, through the node's ``store`` (encrypted at rest)."""
    grant_id, consumer = request.grant_id.lower(), Web3.to_checksum_address(request.consumer)
    grant = checks.grant_for(ledger, grant_id, consumer)
    dataset = checks.dataset_row(session, "0x" + grant.dataset_id.hex())
    checks.require_own_dataset(ledger, department, dataset.dataset_id)
    if request.encrypt_to is not None and address_of_public_key(request.encrypt_to) != consumer:
        raise InvalidInput("public_key", f"is not the key of {consumer}")
    checks.require_not_paused(ledger)
    refused = checks.grant_refusal(ledger, grant, Action.DOWNLOAD)
    if refused is not None:
        raise _refuse(session, grant_id, consumer, refused)
    version = _version(session, dataset, request.version)
    kind = kind_of(version.source_path)
    if kind is None:
        raise InvalidInput("version", "only CSV and JSON lines datasets are delivered with masking")
    checks.require_anchored_version(ledger, version)
    source = checks.require_untampered_source(version, store=store)
    # Fields by name, whatever the version's column order: a name the grant does not give is masked.
    plan = MaskPlan({name: FieldClass(cls) for name, cls in dataset.field_classes.items()},
                    set(checks.granted_fields(session, ledger, grant_id, grant)))
    with checks.GRANT_LOCKS.hold(grant_id):
        refused = checks.quota_refusal(session, ledger, grant_id, grant)
        if refused is not None:
            raise _refuse(session, grant_id, consumer, refused)
        return _write(session, out_dir, key, request, store, source=source, kind=kind, plan=plan, grant_id=grant_id,
                      dataset=dataset, version=version, consumer=consumer)


def _write(session: Session, out_dir: Path, key: bytes, request: Request, store: DataStore, *, source: Path,
           kind: Kind, plan: MaskPlan, grant_id: str, dataset: Dataset, version: DatasetVersion,
           consumer: str) -> Delivery:
    """Mask, fingerprint and (if asked) encrypt the copy, then queue its use, in one commit."""
    delivery_id = secrets.token_bytes(32)
    out_dir.mkdir(parents=True, exist_ok=True)
    plain = out_dir / f"0x{delivery_id.hex()}.{kind}"
    source_encoding = version.encoding or "utf-8"
    encoding = source_encoding if request.encoding == "source" else "utf-8"
    scratch = out_dir / f".masking-0x{delivery_id.hex()}"
    try:
        with store.create(plain) as sink:
            records = _masked_records(store.open(source), kind, plan, store, scratch, source_encoding)
            dst = cast(BinaryIO, sink)
            if kind == "csv":
                stats = fingerprint_csv(records, dst, key, delivery_id, encoding=encoding, masked=plan.masked())  # type: ignore[arg-type]
            else:
                stats = fingerprint_jsonl(records, dst, key, delivery_id, encoding=encoding, masked=plan.masked())  # type: ignore[arg-type]
    finally:
        scratch.unlink(missing_ok=True)
    path, delivered, size = plain, stats.sha256, sink.size
    if request.encrypt_to is not None:
        path = plain.with_suffix(plain.suffix + ".enc")
        with store.open(plain) as src, store.create(path) as sealed:
            encrypt_stream(src, cast(BinaryIO, sealed), request.encrypt_to)
        plain.unlink()
        delivered, size = store.sha256(path)
    evidence = "0x" + delivery_evidence(delivery_id, delivered).hex()
    [entry] = queue_uses(session, [UseRequest("0x" + delivery_id.hex(), grant_id, Action.DOWNLOAD, evidence)])
    row = Delivery(
        delivery_id="0x" + delivery_id.hex(), grant_id=grant_id, dataset_id=dataset.dataset_id, version_id=version.id,
        consumer=consumer, kind=kind, encoding=encoding, encrypted=request.encrypt_to is not None,
        rows=stats.rows - 1 if kind == "csv" and stats.rows else stats.rows,  # records, not the header
        fingerprint_bits=stats.bits, plain_sha256="0x" + stats.sha256.hex(), evidence_hash=evidence,
        size=size, path=str(path), outbox_key=entry.key, fingerprint_key_id=key_id(key),
    )
    session.add(row)
    add_item(session, kind=AnchorKind.DELIVERY_RECEIPTS, item=evidence, label=f"delivery {row.delivery_id}")
    session.commit()
    return row


def _version(session: Session, dataset: Dataset, number: int | None) -> DatasetVersion:
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.dataset_id)
    if number is None:
        version = session.scalar(query.order_by(DatasetVersion.number.desc()).limit(1))
    else:
        version = session.scalar(query.where(DatasetVersion.number == number))
    if version is None:
        raise NotFound("version", f"{dataset.dataset_id} #{number if number is not None else 'latest'}")
    return version


# ---------------------------------------------------------------- leaks


@dataclass(frozen=True)
class LeakSource:
    """The delivery a leaked copy came from (None: it names no one), and how sure that is."""

    delivery: Delivery | None
    attribution: Attribution


def attribute_leak(session: Session, leaked: BinaryIO, key: bytes, *, dataset_id: str | None = None,
                   kind: Kind | None = None) -> LeakSource:
    """Compare a leaked copy with every delivery this node made (of ``dataset_id``, if given)."""
    query = select(Delivery)
    if dataset_id is not None:
        query = query.where(Delivery.dataset_id == dataset_id)
    deliveries: Mapping[bytes, Delivery] = {bytes.fromhex(d.delivery_id[2:]): d for d in session.scalars(query)}
    if not deliveries:
        raise NotFound("delivery", dataset_id or "on this node")
    kinds = {FORMATS[d.kind].kind for d in deliveries.values()}
    if kind is None and len(kinds) != 1:
        raise InvalidInput("kind", "say whether the copy is csv or jsonl")
    found = attribute(leaked, kind or kinds.pop(), key, deliveries)
    return LeakSource(deliveries[found.delivery_id] if found.delivery_id is not None else None, found)
