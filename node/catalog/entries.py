"""One catalog across departments: every dataset on the chain, read from the index every node
keeps of the chain's catalog events (``catalog_datasets``, ``catalog_versions``).

The owner, grade, category and schedule are what the chain says, never what a text claims. The
texts are believed only while they hash to the hashes beside them and, when the chain answers, the
hashes are the ones the chain holds now: a row edited in the node's SQL shows as unverified with
none of its text, never as the edit.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.deploy import Ledger
from ledger.errors import ChainReadFailed, ChainUnavailable
from node import departments
from node.catalog.freshness import Freshness, freshness
from node.catalog.texts import read_text, text_hash
from node.models import CatalogDataset, CatalogVersion, ChainEventRow

Key = tuple[str, int]
"""A dataset id and a version number (0: the dataset's metadata)."""


def code_of(value: str) -> str:
    """A bytes32 code (a department or category) given in 0x hex as its text."""
    return departments.code_of(bytes.fromhex(value.removeprefix("0x")))


def department_names(session: Session) -> dict[str, str]:
    """Each member department's name as the chain gave it on admission, by its bytes32 id."""
    rows = session.scalars(select(ChainEventRow).where(ChainEventRow.name == "DepartmentAdmitted")
                           .order_by(ChainEventRow.id))
    return {row.args["departmentId"]: row.args["name"] for row in rows}


@dataclass(frozen=True)
class VersionEntry:
    number: int
    content_root: str
    schema_hash: str
    size_bytes: int
    record_count: int
    anchored_at: int | None
    fields: list[str]
    format: str | None
    media_type: str
    encoding: str | None
    verified: bool
    """The schema text hashes to the schema hash (and to the chain's, when it was read)."""
    purged_block: int | None = None
    """The block of the version's ``VersionPurged``: its owner removed its plaintext."""


@dataclass(frozen=True)
class Entry:
    dataset_id: str
    owner_department: str
    """The owner's code, from the chain (``ownerDepartment``), whatever its metadata says."""
    owner_department_id: str
    department_name: str
    category: str
    grade: int
    update_interval: int
    metadata_hash: str
    registered_at: int | None
    parents: list[str]
    frozen: bool
    verified: bool
    """The metadata text hashes to the metadata hash (and to the chain's, when it was read)."""
    checked_on_chain: bool
    versions: list[VersionEntry]
    freshness: Freshness
    metadata: dict[str, Any] = field(default_factory=dict)
    """The believed metadata; empty when it is not verified or not a JSON object."""

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.dataset_id)

    @property
    def catalog(self) -> dict[str, Any]:
        value = self.metadata.get("catalog")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def description(self) -> str | None:
        value = self.catalog.get("description")
        return str(value) if value is not None else None

    @property
    def field_classes(self) -> dict[str, str]:
        value = self.metadata.get("field_classes")
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    @property
    def key_fields(self) -> list[str]:
        value = self.metadata.get("key_fields")
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def latest(self) -> VersionEntry | None:
        return self.versions[-1] if self.versions else None

    @property
    def open(self) -> bool:
        return self.grade == 1

    def words(self) -> str:
        """What a search looks in: name, description, category, owner by code and name, field names."""
        fields = [*self.field_classes, *(self.latest.fields if self.latest else [])]
        return " ".join([self.name, self.description or "", self.category, self.owner_department,
                         self.department_name, *fields]).casefold()


def chain_hashes(ledger: Ledger, keys: Sequence[Key], *, timeout: float = 2.0) -> dict[Key, str | None] | None:
    """The hashes the chain holds now for ``keys``, in one batch; None when the chain does not answer."""
    try:
        found = ledger.registry.catalog_hashes([(bytes.fromhex(d[2:]), n) for d, n in keys], timeout=timeout)
    except (ChainUnavailable, ChainReadFailed):
        return None
    return {key: "0x" + h.hex() if h is not None else None for key, h in zip(keys, found)}


def _believed(text: str, stored: str, key: Key, chain: Mapping[Key, str | None] | None) -> bool:
    return text_hash(text) == stored and (chain is None or chain.get(key) == stored)


def _version(row: CatalogVersion, chain: Mapping[Key, str | None] | None) -> VersionEntry:
    ok = _believed(row.schema_text, row.schema_hash, (row.dataset_id, row.number), chain)
    schema = (read_text(row.schema_text) if ok else None) or {}
    fields = schema.get("fields")
    return VersionEntry(
        number=row.number, content_root=row.content_root, schema_hash=row.schema_hash, size_bytes=row.size_bytes,
        record_count=row.record_count, anchored_at=row.anchored_at, verified=ok,
        fields=[str(f) for f in fields] if isinstance(fields, list) else [],
        format=str(schema["format"]) if schema.get("format") else None,
        media_type=str(schema.get("media_type") or "application/octet-stream"),
        encoding=str(schema["encoding"]) if schema.get("encoding") else None, purged_block=row.purged_block,
    )


def _entry(row: CatalogDataset, versions: list[CatalogVersion], names: Mapping[str, str],
           chain: Mapping[Key, str | None] | None, now: float) -> Entry:
    ok = _believed(row.metadata_text, row.metadata_hash, (row.dataset_id, 0), chain)
    shown = [_version(v, chain) for v in versions]
    last = shown[-1].anchored_at if shown else None
    owner = code_of(row.owner_department)
    return Entry(
        dataset_id=row.dataset_id, owner_department=owner, owner_department_id=row.owner_department,
        department_name=names.get(row.owner_department, owner),
        category=code_of(row.category), grade=row.grade, update_interval=row.update_interval,
        metadata_hash=row.metadata_hash, registered_at=row.registered_at, parents=list(row.parents or []),
        frozen=row.frozen, verified=ok, checked_on_chain=chain is not None, versions=shown,
        freshness=freshness(float(last) if last is not None else None, row.update_interval, now),
        metadata=(read_text(row.metadata_text) or {}) if ok else {},
    )


def entries(session: Session, ledger: Ledger | None = None, *, q: str = "", grade: int | None = None,
            department: str = "", dataset_ids: Collection[str] | None = None, now: float | None = None) -> list[Entry]:
    """Every department's datasets matching a search (name, description, category, department,
    field names), a grade, a department (its code, name or id) and, given ``dataset_ids``, one of
    those ids, by name; with ``ledger``, each text is checked against the chain's hash in one batch
    (skipped while the chain does not answer)."""
    now = time.time() if now is None else now
    query = select(CatalogDataset).order_by(CatalogDataset.registered_block, CatalogDataset.dataset_id)
    if grade is not None:
        query = query.where(CatalogDataset.grade == grade)
    if dataset_ids is not None:
        query = query.where(CatalogDataset.dataset_id.in_([d.lower() for d in dataset_ids]))
    rows = list(session.scalars(query))
    versions: dict[str, list[CatalogVersion]] = {}
    if rows:
        for v in session.scalars(select(CatalogVersion).where(CatalogVersion.dataset_id.in_([r.dataset_id for r in rows]))
                                 .order_by(CatalogVersion.dataset_id, CatalogVersion.number)):
            versions.setdefault(v.dataset_id, []).append(v)
    keys = [(r.dataset_id, 0) for r in rows] + [(v.dataset_id, v.number) for vs in versions.values() for v in vs]
    chain = chain_hashes(ledger, keys) if ledger is not None and keys else None
    names = department_names(session)
    found = [_entry(r, versions.get(r.dataset_id, []), names, chain, now) for r in rows]
    wanted = department.strip().casefold()
    if wanted:
        found = [e for e in found if wanted in (e.owner_department.casefold(), e.department_name.casefold(),
                                                 e.owner_department_id)]
    needle = q.strip().casefold()
    if needle:
        found = [e for e in found if needle in e.words()]
    return sorted(found, key=lambda e: (e.name.casefold(), e.dataset_id))


def owners(session: Session) -> list[str]:
    """The departments owning a dataset on the chain, by code."""
    return sorted({code_of(d) for d in session.scalars(select(CatalogDataset.owner_department).distinct())})
