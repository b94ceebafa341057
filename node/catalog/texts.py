"""The public catalog texts that travel on chain: a dataset's metadata and each version's schema.

Both are canonical JSON (sorted keys, no spaces, UTF-8 kept as it is), so that one set of facts
gives one text and one hash. ``DataRegistry`` hashes the text it is given (keccak256 over its
bytes) and emits the text beside the hash, so every node reads every department's catalog from
the chain. They carry names only (of the dataset, its fields, their classes), never a value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ledger import ids
from node.formats import Format

MAX_TEXT = 16384
"""``DataRegistry.MAX_TEXT``: the longest text the contract takes, in bytes."""


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, non-ASCII characters kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(value: Any) -> str:
    """The sha256 of ``value``'s canonical JSON, as 0x hex: what a quality report or a settlement
    statement is anchored and known by."""
    return "0x" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def text_hash(text: str) -> str:
    """The hash the contract keeps of ``text``, as 0x hex."""
    return "0x" + ids.text_hash(text).hex()


def metadata_text(*, name: str, category: str, grade: int, update_interval: int, department: str,
                  catalog: Mapping[str, Any], field_classes: Mapping[str, str], key_fields: Sequence[str]) -> str:
    """A dataset's public metadata: its name, classification, schedule, the department that
    registers it (as it says: the owner is who the chain says), the catalog's own terms
    (description, keywords, license, language) and the class of each personal-data field, which
    says what a delivery masks."""
    return canonical_json({
        "name": name, "category": category, "grade": grade, "update_interval": update_interval,
        "department": department, "catalog": dict(catalog), "field_classes": dict(field_classes),
        "key_fields": list(key_fields),
    })


def schema_text(*, fields: Sequence[str], tabular: Format | None, size_bytes: int, record_count: int,
                encoding: str | None = None) -> str:
    """A version's schema: its field names in order, its format and media type (none for a file
    that is not tabular), its text encoding when known, its size and record count."""
    schema: dict[str, Any] = {
        "fields": list(fields), "format": tabular.kind if tabular else None,
        "media_type": tabular.media_type if tabular else "application/octet-stream",
        "size_bytes": size_bytes, "record_count": record_count,
    }
    if encoding is not None:
        schema["encoding"] = encoding
    return canonical_json(schema)


def read_text(text: str) -> dict[str, Any] | None:
    """A catalog text read back as a JSON object; None when it is not one (a member may write any
    text: its hash still matches, and the catalog shows what the chain says of it alone)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
