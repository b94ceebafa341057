"""Masking delivered data by field class, CSV and JSON lines alike, streamed row by row.

A field is masked when the dataset's schema classes it as personal data (anything but
``PLAIN``) and the consumer's grant does not cover it. What stays visible is what lets a person
tell records apart or check a value by hand, never enough to recover it:

- ID number: 18 characters (the last may be ``X``) keep the first 6 and last 4, hiding the
  birth date and most of the sequence; the old 15-digit form keeps the first 6 and last 3.
- mobile: 11 digits starting ``1[3-9]`` keep the first 3 and last 4.
- bank card: 13 to 19 digits keep the first 6 (the issuer) and last 4.
- name: each word keeps its first character (``张三`` -> ``张*``, ``Li Lei`` -> ``L* L**``).
- address: keeps its first 6 characters, but never more than half of it: addresses written
  from province down to door keep the region and hide the street and number.
- email: keeps the first character of the local part and the whole domain.

Numbers may be grouped by spaces or hyphens, which stay. A value that does not have its class's
shape is masked whole, so a mislabelled or malformed cell never leaks; so is any one-character
name or local part. Masks keep the value's length (names also squeeze runs of whitespace).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import BinaryIO

from node.errors import InvalidInput

MASK = "*"
ADDRESS_KEPT = 6


class FieldClass(Enum):
    """What kind of personal data a field holds, which decides what of it stays visible."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"
    ADDRESS = "address"
    EMAIL = "email"
    BANK_CARD = "bank_card"
    PLAIN = "plain"


# ---------------------------------------------------------------- one value

_SEPARATORS = frozenset(" -")
_ID_18 = re.compile(r"[0-9]{17}[0-9Xx]")
_ID_15 = re.compile(r"[0-9]{15}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_BANK_CARD = re.compile(r"[0-9]{13,19}")
_EMAIL = re.compile(r"([^@\s]+)@([^@\s]+\.[^@\s]+)")


def _hidden(value: str) -> str:
    return MASK * len(value)


def _keep_ends(value: str, shape: re.Pattern[str], head: int, tail: int) -> str | None:
    """``value`` with all but its first ``head`` and last ``tail`` symbols masked, separators
    kept; None when its symbols do not have ``shape``."""
    symbols = [i for i, c in enumerate(value) if c not in _SEPARATORS]
    if not shape.fullmatch("".join(value[i] for i in symbols)):
        return None
    hidden = set(symbols[head : len(symbols) - tail])
    return "".join(MASK if i in hidden else c for i, c in enumerate(value))


def _initial(word: str) -> str:
    return word[0] + _hidden(word[1:]) if len(word) > 1 else _hidden(word)


def _mask_id_number(value: str) -> str:
    return _keep_ends(value, _ID_18, 6, 4) or _keep_ends(value, _ID_15, 6, 3) or _hidden(value)


def _mask_address(value: str) -> str:
    kept = min(ADDRESS_KEPT, len(value) // 2)
    return value[:kept] + _hidden(value[kept:])


def _mask_email(value: str) -> str:
    match = _EMAIL.fullmatch(value)
    if match is None:
        return _hidden(value)
    local, domain = match.groups()
    return f"{_initial(local)}@{domain}"


_MASKS: dict[FieldClass, Callable[[str], str]] = {
    FieldClass.ID_NUMBER: _mask_id_number,
    FieldClass.MOBILE: lambda value: _keep_ends(value, _MOBILE, 3, 4) or _hidden(value),
    FieldClass.NAME: lambda value: " ".join(_initial(word) for word in value.split()),
    FieldClass.ADDRESS: _mask_address,
    FieldClass.EMAIL: _mask_email,
    FieldClass.BANK_CARD: lambda value: _keep_ends(value, _BANK_CARD, 6, 4) or _hidden(value),
    FieldClass.PLAIN: lambda value: value,
}


def mask_value(cls: FieldClass, value: str) -> str:
    """``value`` as seen by a consumer whose grant does not cover its field of class ``cls``."""
    return _MASKS[cls](value)


# ---------------------------------------------------------------- plans and grants


def _key(name: str) -> str:
    # Registration strips header names but keeps a UTF-8 byte order mark; the reader drops it.
    return name.lstrip("\ufeff").strip()


@dataclass(frozen=True)
class MaskPlan:
    """The class of each field of a dataset, and the fields a grant lets through in clear.

    A field missing from ``fields`` is unclassed and passes unchanged: classing is the owner's
    decision at registration, and the plan carries it out rather than second-guessing it.
    """

    fields: Mapping[str, FieldClass]
    allowed: Collection[str] = frozenset()

    def masked(self) -> dict[str, FieldClass]:
        """The fields to mask, by name, with their class."""
        allowed = {_key(name) for name in self.allowed}
        return {
            _key(name): cls
            for name, cls in self.fields.items()
            if cls is not FieldClass.PLAIN and _key(name) not in allowed
        }


# ---------------------------------------------------------------- streams


@dataclass
class MaskStats:
    """How many records passed, and how many cells of each field were masked (empty ones aren't)."""

    rows: int = 0
    masked: Counter[str] = field(default_factory=Counter)


def _text_lines(src: BinaryIO | Iterable[bytes], kind: str) -> Iterator[str]:
    """The lines of UTF-8 ``src`` with their endings, whatever the byte chunks' boundaries;
    a byte order mark is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    partial: list[str] = []
    try:
        for chunk in src:
            *lines, rest = decoder.decode(chunk).split("\n")
            for line in lines:
                partial.append(line)
                yield "".join(partial) + "\n"
                partial.clear()
            partial.append(rest)
        partial.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as err:
        raise InvalidInput(kind, f"not UTF-8 text: {err.reason}") from err
    if tail := "".join(partial):
        yield tail


class _Utf8Writer:
    """The text face of ``dst`` for :func:`csv.writer`; a TextIOWrapper would close ``dst``."""

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst

    def write(self, text: str) -> int:
        return self._dst.write(text.encode())


def mask_csv(src: BinaryIO | Iterable[bytes], dst: BinaryIO, plan: MaskPlan) -> MaskStats:
    """Copy UTF-8 CSV from ``src`` to ``dst`` one record at a time, masking as ``plan`` says.

    ``src`` is a binary file or any iterable of byte chunks. Quoted cells may hold commas and
    newlines. The header is kept; records are written back by :mod:`csv` with ``\\n`` endings
    and minimal quoting, a canonical form rather than a byte copy. Blank lines are dropped, and
    a record with more or fewer cells than the header is refused: its cells have no sure name.
    """
    masked = plan.masked()
    stats = MaskStats()
    writer = csv.writer(_Utf8Writer(dst), lineterminator="\n")
    try:
        reader = csv.reader(_text_lines(src, "csv"))
        header = next(reader, None)
        if header is None:
            return stats
        writer.writerow(header)
        columns = [(i, name, masked[name]) for i, name in enumerate(map(_key, header)) if name in masked]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise InvalidInput("csv", f"record {stats.rows + 1} has {len(row)} cells, the header {len(header)}")
            for i, name, cls in columns:
                if row[i]:
                    row[i] = mask_value(cls, row[i])
                    stats.masked[name] += 1
            writer.writerow(row)
            stats.rows += 1
    except csv.Error as err:
        raise InvalidInput("csv", f"record {stats.rows + 1}: {err}") from err
    return stats


def _mask_json(cls: FieldClass, value: object) -> object:
    # A number, list or object where a string was classed is masked as its JSON text, so an ID
    # or phone number stored as a number does not slip through.
    if isinstance(value, str):
        return mask_value(cls, value)
    return mask_value(cls, json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def mask_jsonl(src: BinaryIO | Iterable[bytes], dst: BinaryIO, plan: MaskPlan) -> MaskStats:
    """Copy UTF-8 JSON lines from ``src`` to ``dst`` one record at a time, masking as ``plan`` says.

    Only top-level fields are masked; null and empty strings stay as they are. Keys keep their
    order, text stays unescaped, and records are written compactly. Blank lines are dropped.
    """
    masked = plan.masked()
    stats = MaskStats()
    for number, line in enumerate(_text_lines(src, "jsonl"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidInput("jsonl", f"line {number}: {err.msg}") from err
        if not isinstance(record, dict):
            raise InvalidInput("jsonl", f"line {number} is not a JSON object")
        for name, value in record.items():
            cls = masked.get(_key(name))
            if cls is not None and value not in (None, ""):
                record[name] = _mask_json(cls, value)
                stats.masked[_key(name)] += 1
        dst.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        stats.rows += 1
    return stats
