"""Attributing a leaked copy: the fingerprint marks read from each row, the evidence they make
once the channels a tool or a person wrote are set aside, and the test that names a delivery
only beyond chance (the scheme and the bound: :mod:`node.access.delivery.fingerprint`)."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import BinaryIO

import charset_normalizer

from node.access.delivery.fingerprint import (
    ENCODING, GLYPH, WIDE_MASK, choices, csv_digest, glyph_positions, json_digest, json_pieces, quote_optional,
    sorted_keys, text_cells,
)
from node.errors import InvalidInput
from node.formats import Kind

MIN_BITS = 32  # fewer bits than this are no evidence against anyone
ALPHA = 1e-6  # the most chance, over all candidates, of naming a delivery that is not the source
DEFAULT_MAX_ROWS = 1024  # far beyond what confidence needs; it bounds the HMACs per candidate

_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,"\r\n]*)')
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_CONTINUATION = re.compile(rb"[\x80-\xbf]{1,3}")  # the tail of a UTF-8 character cut at the start


@dataclass(frozen=True)
class Bit:
    """One fingerprint bit read from a row: bit ``position`` of the ``carrier``'s keyed stream,
    read in ``channel`` (a column's glyphs or quoting, a JSON separator)."""

    carrier: str
    position: int
    channel: str
    value: bool


@dataclass(frozen=True)
class Mark:
    """The fingerprint bits read from one row, and the digest of its normalised values."""

    digest: bytes
    bits: tuple[Bit, ...]


@dataclass(frozen=True)
class Attribution:
    """What a leaked copy says about its source.

    ``bits`` were read from ``rows`` distinct rows; the best-matching candidate predicts
    ``matching`` of them (``score`` is the share) and would do so by chance with probability
    ``p_value``. ``delivery_id`` is set only when ``confident``; otherwise ``reason`` says why no
    one is named. ``beyond_chance`` lists every candidate matching beyond the bound (two or more:
    a copy mixed from them).
    """

    delivery_id: bytes | None
    confident: bool
    reason: str | None
    bits: int
    matching: int
    score: float
    p_value: float
    runner_up_score: float | None
    rows: int
    beyond_chance: tuple[bytes, ...]


def content_hash(src: BinaryIO) -> bytes:
    """SHA-256 of the bytes of ``src``, to compare with delivery receipts before fingerprints."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: src.read(1 << 20), b""):
        digest.update(chunk)
    return digest.digest()


def _glyph_bits(cells: Sequence[str], channels: Sequence[str]) -> Iterator[Bit]:
    for column, value in enumerate(cells):
        for i, position in glyph_positions(column, value):
            yield Bit(GLYPH, position, f"glyphs of {channels[column]}", value[i] == WIDE_MASK)


# ---------------------------------------------------------------- CSV


def _csv_cells(record: str) -> list[tuple[str, bool | None]]:
    """The values of one record, each with whether it was quoted (None: read by :mod:`csv`,
    which keeps no such thing, for a record not in the RFC 4180 form)."""
    parsed: list[tuple[str, bool | None]] = []
    pos = -1
    while pos < len(record):
        match = _CSV_FIELD.match(record, pos + 1)
        assert match is not None  # the bare alternative matches the empty string
        quoted, bare = match.groups()
        parsed.append((quoted.replace('""', '"') if quoted is not None else bare, quoted is not None))
        pos = match.end()
        if pos < len(record) and record[pos] != ",":
            return [(v, None) for v in next(csv.reader([record], skipinitialspace=True), [])]
    return parsed


def _csv_records(text: str) -> Iterator[str]:
    pending: list[str] = []
    quotes = 0
    for line in _LINE.findall(text):
        pending.append(line)
        quotes += line.count('"')
        # A record ends at a line break outside quotes; an unterminated last one was cut short.
        if quotes % 2 or not line.endswith(("\n", "\r")):
            continue
        record = "".join(pending)
        pending, quotes = [], 0
        if record := record.removesuffix("\n").removesuffix("\r"):
            yield record


def _csv_marks(text: str) -> Iterator[Mark]:
    for record in _csv_records(text):
        try:
            cells = _csv_cells(record)
        except csv.Error:
            continue
        values = [v for v, _ in cells]
        quoting = (Bit(ENCODING, i, f"quoting of column {i}", bool(quoted)) for i, (v, quoted) in enumerate(cells)
                   if quoted is not None and quote_optional(v, len(cells)))
        channels = [f"column {i}" for i in range(len(cells))]
        yield Mark(csv_digest(values), (*quoting, *_glyph_bits(values, channels)))


# ---------------------------------------------------------------- JSON lines


def _spacing_bits(line: str, record: Mapping[str, object]) -> Iterator[Bit]:
    """The separators' spacing, when the line is otherwise the compact form we write."""
    pos, found = 1, []
    for i, (k, v) in enumerate(json_pieces(record)):
        for literal, choice in ([(",", 2 * i - 1)] if i else []) + [(k + ":", 2 * i)]:
            if not line.startswith(literal, pos):
                return
            pos += len(literal)
            spaced = line.startswith(" ", pos)
            found.append(Bit(ENCODING, choice, f"separator {choice}", spaced))
            pos += spaced
        if not line.startswith(v, pos):
            return
        pos += len(v)
    if line[pos:] == "}":
        yield from found


def _jsonl_marks(text: str) -> Iterator[Mark]:
    for line in _LINE.findall(text):
        line = line.strip()
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict) or not record:
            continue
        keys = sorted_keys(record)
        spacing = _spacing_bits(line, record) if line.startswith("{") else iter(())
        glyphs = _glyph_bits(text_cells(record, keys), [f"field {k}" for k in keys])
        yield Mark(json_digest(record), (*spacing, *glyphs))


# ---------------------------------------------------------------- reading a copy


def decode(data: bytes) -> str:
    """The text of a copy, a byte order mark dropped: UTF-8 (a character cut at either end set
    aside); else GB18030 (so GBK too), what Chinese government systems export, when the bytes
    are that; else the encoding ``charset-normalizer`` detects; else UTF-8 with replacements.
    GB18030 comes before detection because a copy of mostly ``＊`` and digits fools detectors
    (its GBK bytes look as clean in ISO 8859-16)."""
    cut = _CONTINUATION.match(data)
    for encoding, body in (("utf-8", data[cut.end():] if cut else data), ("gb18030", data)):
        try:
            return codecs.getincrementaldecoder(encoding)().decode(body, final=False).removeprefix("\ufeff")
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(data).best()
    return (str(best) if best is not None else data.decode("utf-8", "replace")).removeprefix("\ufeff")


def extract_marks(src: BinaryIO, kind: Kind) -> Iterator[Mark]:
    """The fingerprint bits of each row of a (possibly cut, re-saved, re-encoded or reordered)
    copy, in file order, before any channel is set aside; rows that cannot be read are skipped."""
    if kind not in ("csv", "jsonl"):
        raise InvalidInput("kind", f"{kind!r} is neither 'csv' nor 'jsonl'")
    text = decode(src.read())
    return _csv_marks(text) if kind == "csv" else _jsonl_marks(text)


def _evidence(marks: Iterable[Mark], max_rows: int) -> list[tuple[bytes, dict[str, tuple[int, int]]]]:
    """Per distinct row: for each carrier, which bits were read (a mask) and their values; the
    channels that read the same in every row are set aside first."""
    rows: dict[bytes, Mark] = {}
    for mark in marks:
        if len(rows) >= max_rows:
            break
        rows.setdefault(mark.digest, mark)
    seen: defaultdict[str, set[bool]] = defaultdict(set)
    for mark in rows.values():
        for bit in mark.bits:
            seen[bit.channel].add(bit.value)
    evidence = []
    for digest, mark in rows.items():
        carriers: dict[str, tuple[int, int]] = {}
        for bit in mark.bits:
            if len(seen[bit.channel]) == 2:
                decided, values = carriers.get(bit.carrier, (0, 0))
                carriers[bit.carrier] = decided | 1 << bit.position, values | bit.value << bit.position
        if carriers:
            evidence.append((digest, carriers))
    return evidence


# ---------------------------------------------------------------- attribution


def _matches(key: bytes, delivery_id: bytes, evidence: list[tuple[bytes, dict[str, tuple[int, int]]]]) -> int:
    matches = 0
    for digest, carriers in evidence:
        for carrier, (decided, values) in carriers.items():
            expected = choices(key, carrier, delivery_id, digest, decided.bit_length())
            matches += (~(expected ^ values) & decided).bit_count()
    return matches


def _tail(matches: int, bits: int) -> float:
    """P(at least ``matches`` of ``bits`` fair coin flips come up right)."""
    term = total = 0
    for i in range(bits, matches - 1, -1):  # C(bits, i) from i = bits down
        term = 1 if i == bits else term * (i + 1) // (bits - i)
        total += term
    return total / (1 << bits) if bits else 1.0


def attribute(leaked: BinaryIO, kind: Kind, key: bytes, candidates: Iterable[bytes],
              max_rows: int = DEFAULT_MAX_ROWS) -> Attribution:
    """Which of the ``candidates`` (delivery ids) ``leaked`` came from, if its fingerprint says so
    beyond chance (see :mod:`node.access.delivery.fingerprint` for the bound); otherwise no one,
    and why."""
    ids = list(dict.fromkeys(candidates))
    if not ids:
        raise InvalidInput("candidates", "there is no delivery to compare against")
    evidence = _evidence(extract_marks(leaked, kind), max_rows)
    bits = sum(decided.bit_count() for _, carriers in evidence for decided, _ in carriers.values())
    scored = sorted(((_matches(key, d, evidence), d) for d in ids), reverse=True)
    (best, _), runner = scored[0], scored[1] if len(scored) > 1 else None
    p_value = _tail(best, bits)
    beyond = tuple(d for _, d in takewhile(lambda s: _tail(s[0], bits) * len(ids) <= ALPHA, scored)
                   ) if bits >= MIN_BITS else ()
    if bits < MIN_BITS:
        reason = f"the copy carries {bits} readable fingerprint bits; {MIN_BITS} are needed"
    elif not beyond:
        reason = (f"the best of {len(ids)} deliveries predicts {best} of the copy's {bits} fingerprint bits, "
                  f"which chance explains (p = {p_value:.2g}; {ALPHA:g} over all of them is needed)")
    elif len(beyond) > 1:
        reason = f"{len(beyond)} deliveries each predict the copy beyond chance: it was mixed from them"
    else:
        reason = None
    return Attribution(
        delivery_id=beyond[0] if reason is None else None, confident=reason is None, reason=reason,
        bits=bits, matching=best, score=best / bits if bits else 0.0, p_value=p_value,
        runner_up_score=runner[0] / bits if runner and bits else None, rows=len(evidence), beyond_chance=beyond,
    )
