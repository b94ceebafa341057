"""Purge with evidence: a version's plaintext leaves the node when the law requires it (China's
personal information law gives a person the right to have their records deleted), while its
anchored root, its events and every receipt stay, and the purge itself goes on chain
(``DataRegistry.purgeVersion``) with the hash of its reason, published like other reasons.

A whole version is purged (:func:`purge_version`), or one person's records
(:func:`purge_person`): every version holding a record whose ID-number field (the dataset's field
classes name it) is the person's gets a successor without those records, registered through the
normal path (new root anchored), and the old version is purged naming the person by a salted hash
(:func:`subject_hash`; the salt is the node's secret, so the chain carries no ID number's hash
anyone could brute-force from the few million birth dates and districts). The number asked for is
checked first (its GB 11643-1999 check character and birth date: a typo is refused, never a purge
of nobody), and both it and the records are read in their 18-character form
(:func:`node.fields.id_number_key`): full-width digits, a lower-case x, spaces, and the
first-generation 15-digit number all find the same person, and name them by one hash.

The rows are marked and the chain write queued in the caller's transaction; the plaintext itself
(the version's stored file and the delivered copies made from it) is removed by
:func:`remove_purged` once that is committed, and by every retention step after: a version the
chain says is purged but whose plaintext this node still holds (a restored backup) is purged
there too; the chain is believed.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session

from node.catalog.register import register_version
from node.chain.outbox import enqueue
from node.chain.texts import ZERO_HASH, publish
from node.errors import Conflict, InvalidInput, NotFound
from node.fields import FieldClass, checked_id_number, id_number_key
from node.formats import kind_of
from node.keyfiles import secret_file
from node.models import CatalogVersion, Dataset, DatasetVersion, Delivery, OutboxEntry, utcnow
from node.store import DataStore

SALT_FILE = "purge-subject-salt.key"


def subject_salt(data_dir: Path) -> bytes:
    """The department's secret salt for subject hashes, made on first use."""
    return secret_file(data_dir / SALT_FILE)


def subject_hash(salt: bytes, id_number: str) -> str:
    """``keccak256(salt || ID number)`` in 0x hex, the number in its 18-character form
    (:func:`~node.fields.id_number_key`, so every spelling of one person gives one hash): the person
    a purge names on chain."""
    return "0x" + keccak(salt + id_number_key(id_number).encode()).hex()


@dataclass(frozen=True)
class PersonPurge:
    """What one person's purge did: each purged version and the successor that replaced it."""

    dataset_id: str
    subject_hash: str
    replaced: list[tuple[int, int]]
    """(purged version, successor version) pairs."""
    writes: list[OutboxEntry]


def _version(session: Session, dataset_id: str, number: int) -> DatasetVersion:
    version = session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                          DatasetVersion.number == number))
    if version is None:
        raise NotFound("version", f"{dataset_id} #{number}")
    return version


def _own(session: Session, dataset_id: str) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset", dataset_id)
    return dataset


def _unpurged(version: DatasetVersion) -> DatasetVersion:
    if version.purged_at is not None:
        raise Conflict(f"version {version.number} of {version.dataset_id}",
                       f"was purged already on {version.purged_at:%Y-%m-%d %H:%M:%S} UTC")
    return version


def _mark(session: Session, version: DatasetVersion, reason_hash: str, subject: str) -> OutboxEntry:
    version.purged_at, version.purge_reason = utcnow(), reason_hash
    return enqueue(session, key=f"purge:{version.dataset_id}:{version.number}", kind="purge_version", payload={
        "dataset_id": version.dataset_id, "version": version.number, "reason_hash": reason_hash,
        "subject_hash": subject,
    })


def _reason(session: Session, reason: str) -> str:
    if not reason.strip():
        raise InvalidInput("reason", "a purge needs a reason")
    return publish(session, reason, field="reason")


def purge_version(session: Session, *, dataset_id: str, number: int, reason: str) -> OutboxEntry:
    """Mark version ``number`` of the (own) dataset purged and queue ``purgeVersion``; call
    :func:`remove_purged` after the commit. :class:`Conflict` if it was purged already,
    :class:`InvalidInput` for an empty reason or one holding a personal number."""
    _own(session, dataset_id)
    version = _unpurged(_version(session, dataset_id, number))
    return _mark(session, version, _reason(session, reason), ZERO_HASH)


def _id_field(dataset: Dataset) -> str:
    fields = [name for name, cls in dataset.field_classes.items() if cls == FieldClass.ID_NUMBER.value]
    if not fields:
        raise InvalidInput("id_number", "the dataset's field classes name no ID-number field to find a person by")
    return fields[0]


def person_of(id_number: str) -> str:
    """The 18-character form of the ID number a person's purge is asked for (every spelling of one
    person gives one); :class:`InvalidInput` (``id_number``) saying why it is no resident ID number
    (a wrong check character is a typo, never a purge of nobody), the number masked."""
    try:
        return checked_id_number(id_number, utcnow().date())
    except ValueError as err:
        raise InvalidInput("id_number", str(err)) from None


def _records(text: Iterator[str]) -> Iterator[str]:
    """The CSV records of ``text`` (lines with their endings), a quoted field's line breaks kept inside."""
    pending = ""
    for line in text:
        pending += line
        if pending.count('"') % 2 == 0:
            yield pending
            pending = ""
    if pending:
        yield pending


def _without(store: DataStore, version: DatasetVersion, field: str, person: str, target: Path) -> int:
    """Write ``version``'s records but the person's to ``target`` (through ``store``), in the
    version's encoding and record for record as they were; returns how many were left out."""
    kind, encoding, removed = kind_of(version.source_path), version.encoding or "utf-8", 0
    # One encoder for the whole file: a BOM (utf-8-sig) is written once, at the start.
    encode = codecs.getincrementalencoder(encoding)().encode
    with store.open(Path(version.source_path)) as raw, store.create(target) as out:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        # A JSON line is one record whatever quotes it holds (escaped ones too); a CSV record may span lines.
        lines = _records(text) if kind == "csv" else iter(text)
        column = None
        if kind == "csv":
            header = next(lines, "")
            out.write(encode(header))
            names = [n.strip() for n in next(csv.reader([header.lstrip("\ufeff")]), [])]
            column = names.index(field)
        for record in lines:
            if kind == "csv":
                values = next(csv.reader([record]), [])
                value = values[column] if column is not None and column < len(values) else ""
            else:
                value = str(json.loads(record).get(field, "")) if record.strip() else ""
            if id_number_key(value) == person:
                removed += 1
                continue
            out.write(encode(record))
    return removed


def purge_person(session: Session, store: DataStore, *, dataset_id: str, id_number: str, reason: str,
                 salt: bytes) -> PersonPurge:
    """Replace every unpurged version of the dataset holding the person's records with a successor
    without them, and purge the old one naming the person by :func:`subject_hash`. The ID number
    is never part of an error (masked there), a log line or the chain. :class:`InvalidInput`
    (``id_number``) when it is no resident ID number: a wrong check character is a typo."""
    dataset = _own(session, dataset_id)
    field = _id_field(dataset)
    person = person_of(id_number)
    reason_hash, subject = _reason(session, reason), subject_hash(salt, person)
    replaced, entries = [], []
    versions = session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                            DatasetVersion.purged_at.is_(None))
                               .order_by(DatasetVersion.number)).all()
    for old in versions:
        if kind_of(old.source_path) is None:
            continue
        source = Path(old.source_path)
        target = source.with_name(f"{secrets.token_hex(12)}{source.suffix}")
        try:
            if _without(store, old, field, person, target) == 0:
                target.unlink(missing_ok=True)
                continue
            new = register_version(session, dataset_id=dataset_id, path=target, encoding=old.encoding, store=store)
        except Exception:
            target.unlink(missing_ok=True)
            raise
        session.flush()
        entries.append(_mark(session, old, reason_hash, subject))
        replaced.append((old.number, new.number))
    if not replaced:
        raise NotFound("records of that person", dataset_id)
    return PersonPurge(dataset_id, subject, replaced, entries)


def remove_purged(session: Session) -> int:
    """Remove the plaintext of every purged version still on disk: the version's stored file and
    the copies delivered from it (their receipts stay). A version the chain says is purged and this
    node has not marked is marked first. Returns how many versions lost files now."""
    believed = session.execute(
        select(DatasetVersion, CatalogVersion.purge_reason).join(CatalogVersion, (
            CatalogVersion.dataset_id == DatasetVersion.dataset_id) & (CatalogVersion.number == DatasetVersion.number))
        .where(CatalogVersion.purged_block.is_not(None), DatasetVersion.purged_at.is_(None))).all()
    for version, reason in believed:
        version.purged_at, version.purge_reason = utcnow(), reason
    removed = 0
    for version in session.scalars(select(DatasetVersion).where(DatasetVersion.purged_at.is_not(None))):
        removed += _remove(Path(version.source_path))
        for copy in session.scalars(select(Delivery).where(Delivery.version_id == version.id,
                                                           Delivery.removed_at.is_(None))):
            _remove(Path(copy.path))
            copy.removed_at = version.purged_at
    session.commit()
    return removed


def _remove(path: Path) -> int:
    if path.is_dir():
        shutil.rmtree(path)
        return 1
    if path.exists():
        path.unlink()
        return 1
    return 0
