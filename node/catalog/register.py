"""Registering datasets and versions: hash the content in streaming chunks, describe tabular
data, keep the metadata in SQL, and queue the chain writes in the outbox, in one transaction."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import ids
from ledger.hashing import DEFAULT_CHUNK_SIZE, Observer
from node.fields import FieldClass
from node.catalog.texts import MAX_TEXT, metadata_text, schema_text, text_hash
from node.formats import FORMATS, TextCheck, canonical_encoding, kind_of
from node.errors import AlreadyExists, InvalidInput, NotFound
from node.models import Dataset, DatasetVersion, FileRoot
from node.chain.outbox import enqueue
from node.store import PLAIN, DataStore

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def code_id(code: str) -> str:
    """The bytes32 id of a short code, as 0x hex: the code's bytes, zero-padded."""
    raw = code.encode()
    if not raw or len(raw) > 31:
        raise InvalidInput("code", f"{code!r} must be 1 to 31 bytes")
    return "0x" + raw.ljust(32, b"\x00").hex()


def dataset_id_for(department: str, code: str) -> str:
    """A dataset's id as ``DataRegistry`` derives it from its owner department and its code: no
    other department can register it, and registering twice is one dataset."""
    return "0x" + ids.dataset_id(bytes.fromhex(code_id(department)[2:]), ids.key_of(code)).hex()


@dataclass
class TableShape:
    """Counts records, settles the text encoding and reads the field names in it while the file
    streams past the hasher."""

    kind: str
    declared: str | None = None
    """The encoding the owner declared; detected when None (:class:`node.formats.TextCheck`)."""
    lines: int = 0
    _text: TextCheck = field(init=False)
    _last: int = -1

    def __post_init__(self) -> None:
        self._text = TextCheck(self.declared)

    def __call__(self, chunk: memoryview) -> None:
        if not chunk:
            return
        self.lines += bytes(chunk).count(b"\n")
        self._last = chunk[-1]
        self._text(chunk)

    def finish(self) -> tuple[str, list[str], int]:
        """The encoding, field names and record count (one record per line, a header line not
        counted); :class:`InvalidInput` if the file is not text in a supported encoding."""
        encoding = self._text.encoding()
        lines = self.lines + (1 if self._last not in (-1, ord("\n")) else 0)
        # The head may end inside a character: an incremental decoder keeps such a tail back.
        head = codecs.getincrementaldecoder(encoding)().decode(bytes(self._text.head)).lstrip("\ufeff")
        if self.kind == "csv":
            first = next(csv.reader(io.StringIO(head)), [])
            return encoding, [f.strip() for f in first], max(lines - 1, 0)
        first_line = head.split("\n", 1)[0]
        try:
            record = json.loads(first_line) if first_line.strip() else {}
        except json.JSONDecodeError as err:
            raise InvalidInput("file", f"the first line is not JSON: {err.msg}") from err
        if not isinstance(record, dict):
            raise InvalidInput("file", "JSON lines must hold one object per line")
        return encoding, sorted(record), lines


def describe(path: Path, kind: str, encoding: str | None = None) -> tuple[str, list[str], int]:
    """The encoding, field names and record count of the tabular file ``path`` (see
    :class:`TableShape`), read as registration reads it: a client checks a file before sending it."""
    shape = TableShape(kind, encoding)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(DEFAULT_CHUNK_SIZE), b""):
            shape(memoryview(chunk))
    return shape.finish()


def require_columns(fields: list[str], field_classes: Mapping[str, str], key_fields: list[str]) -> None:
    """Refuse field classes or key fields naming no column of ``fields``, listing the columns."""
    for what, names in (("field_classes", list(field_classes)), ("key_fields", key_fields)):
        missing = [name for name in names if name not in fields]
        if missing:
            raise InvalidInput(what, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} no column "
                               f"of the file; its columns are {', '.join(fields) or 'none'}")


def _field_classes(classes: Mapping[str, str]) -> dict[str, str]:
    known = {c.value for c in FieldClass}
    for name, value in classes.items():
        if value not in known:
            raise InvalidInput("field_classes", f"field {name}: {value!r} is not one of {', '.join(sorted(known))}")
    return dict(classes)


def register_dataset(
    session: Session,
    *,
    department: str,
    code: str,
    name: str,
    category: str,
    grade: int,
    update_interval: int,
    catalog: dict[str, Any] | None = None,
    parents: list[str] | None = None,
    usage_right_holders: list[str] | None = None,
    revenue_beneficiary: str = ZERO_ADDRESS,
    field_classes: Mapping[str, str] | None = None,
    key_fields: list[str] | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Record a dataset owned by ``department`` and queue its registration on-chain.

    ``field_classes`` names the class of each personal-data field (``FieldClass`` values):
    what delivery masks outside a grant's scope and what quality checks for validity.
    ``key_fields`` make a record's key, for the uniqueness check. Both must name columns of
    each version (:func:`register_version` refuses a version they do not fit). ``encoding`` is
    the text encoding the owner declares for its versions (detected when None).
    """
    classes = _field_classes(field_classes or {})
    encoding = canonical_encoding(encoding) if encoding else None
    for parent in parents or []:
        if not re.fullmatch(r"0x[0-9a-f]{64}", parent):
            raise InvalidInput("parents", f"{parent!r} is not a dataset id (32 bytes in lowercase 0x hex)")
    if len(set(parents or [])) != len(parents or []):
        raise InvalidInput("parents", "names a dataset twice")
    if not 1 <= grade <= 4:
        raise InvalidInput("grade", f"{grade} is not a grade from 1 to 4")
    if update_interval < 0:
        raise InvalidInput("update_interval", "must not be negative")
    dataset_id = dataset_id_for(department, code)
    if session.get(Dataset, dataset_id) is not None:
        raise AlreadyExists("dataset", code)
    catalog = dict(catalog or {})
    metadata = metadata_text(name=name, category=category, grade=grade, update_interval=update_interval,
                             department=department, catalog=catalog, field_classes=classes,
                             key_fields=list(key_fields or []))
    if len(metadata.encode()) > MAX_TEXT:
        raise InvalidInput("catalog", f"the dataset's public metadata is longer than {MAX_TEXT} bytes")
    dataset = Dataset(
        dataset_id=dataset_id, name=name, owner_department=department, category=category, grade=grade,
        update_interval=update_interval, metadata_hash=text_hash(metadata), catalog=catalog,
        parents=list(parents or []), field_classes=classes, key_fields=list(key_fields or []), encoding=encoding,
    )
    session.add(dataset)
    enqueue(session, key=f"dataset:{dataset_id}", kind="register_dataset", payload={
        "dataset_id": dataset_id,
        "code": "0x" + ids.key_of(code).hex(),
        "owner_department": code_id(department),
        "metadata": metadata,
        "metadata_hash": dataset.metadata_hash,
        "category": code_id(category),
        "grade": grade,
        "update_interval": update_interval,
        "ownership_holder": code_id(department),
        "usage_right_holders": [code_id(d) for d in (usage_right_holders or [])],
        "revenue_beneficiary": revenue_beneficiary,
        "parents": list(parents or []),
    })
    return dataset


def register_version(
    session: Session,
    *,
    dataset_id: str,
    path: Path,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    observe: Observer | None = None,
    encoding: str | None = None,
    store: DataStore = PLAIN,
) -> DatasetVersion:
    """Hash a file or directory into a new version of ``dataset_id`` and queue its anchoring.

    The content root is over the plaintext: a file kept encrypted by ``store`` (an upload) is
    hashed as it decrypts.

    A tabular file's text encoding is ``encoding``, else the one declared for the dataset, else
    detected; the whole file must decode in it, and the dataset's field classes and key fields
    must name its columns, or it is refused (:class:`InvalidInput`) with nothing recorded.
    """
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset", dataset_id)
    path = Path(path)
    kind = kind_of(path) if path.is_file() else None
    shape = TableShape(kind, encoding or dataset.encoding) if kind else None

    def both(chunk: memoryview) -> None:
        if shape is not None:
            shape(chunk)
        if observe is not None:
            observe(chunk)

    content = store.root_of(path, chunk_size, observe=both)
    root = "0x" + content.root.hex()
    if session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                   DatasetVersion.content_root == root)):
        raise AlreadyExists("version", root)
    text, fields, records = shape.finish() if shape else (None, [], len(content.files))
    if shape is not None:
        require_columns(fields, dataset.field_classes, dataset.key_fields)
    schema = schema_text(fields=fields, tabular=FORMATS[kind] if kind else None, size_bytes=content.size,
                         record_count=records, encoding=text)
    if len(schema.encode()) > MAX_TEXT:
        raise InvalidInput("file", f"its field names make a schema longer than {MAX_TEXT} bytes")
    previous = session.scalar(select(func.count()).select_from(DatasetVersion)
                              .where(DatasetVersion.dataset_id == dataset_id))
    version = DatasetVersion(
        dataset_id=dataset_id, number=(previous or 0) + 1, content_root=root, schema_hash=text_hash(schema), size_bytes=content.size,
        record_count=records, source_path=str(path.resolve()), chunk_size=chunk_size, schema=fields, encoding=text,
        files=[FileRoot(path=f.path, size=f.size, root="0x" + f.root.hex(), chunk_digests=b"".join(f.chunk_digests))
               for f in content.files],
    )
    session.add(version)
    enqueue(session, key=f"version:{dataset_id}:{root}", kind="add_version", payload={
        "dataset_id": dataset_id, "content_root": root, "schema": schema, "schema_hash": version.schema_hash,
        "size_bytes": content.size, "record_count": records,
    })
    return version
