"""Per-delivery fingerprints: no two consumers get byte-identical copies of a dataset, and a
leaked copy names the delivery (so the grant and the consumer) it came from.

Where a format allows two encodings of the same values, a keyed bit picks one: a CSV field that
may go bare is quoted or not (``"abc"``, ``abc``); a JSON line has a space after each top-level
``:`` and ``,`` or not (``{"a":1}``, ``{"a": 1}``). A row's bits are ``HMAC(node key, delivery
id || digest of the row's values)``: keyed on the row itself, not its position, so each row is
evidence on its own and a cut, sliced, sampled or shuffled copy needs no alignment.

Limits: the bits live in the encoding, so a copy re-serialised by a tool keeps its values but
reads as no one's. An edited row, or one whose embedded line breaks were converted, is noise for
every candidate; repeated rows count once; fields that must be quoted and records without keys
carry no bits (:class:`FingerprintStats` counts a delivery's bits).
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from node.errors import InvalidInput, NotAttributable
from node.formats import Kind


MIN_BITS = 32  # fewer bits than this are no evidence against anyone
ALPHA = 1e-6  # the most chance, over all candidates, of naming a delivery that is not the source
# Far beyond what confidence needs; it bounds the HMACs per candidate, whatever the copy's size.
DEFAULT_MAX_BITS = 4096

_DOMAIN = b"provledger/delivery-fingerprint/v1"
_MUST_QUOTE = re.compile(r'[,"\r\n]')
_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,"\r\n]*)')


@dataclass(frozen=True)
class FingerprintStats:
    """One delivery as written: the receipt hash is that of exactly these bytes."""

    rows: int
    bits: int
    size: int
    sha256: bytes


@dataclass(frozen=True)
class Mark:
    """The fingerprint read from one row: bit ``i`` of ``bits`` counts only where ``decided`` has it."""

    digest: bytes
    decided: int
    bits: int


@dataclass(frozen=True)
class Attribution:
    """The delivery whose fingerprint best matches a leaked copy, and how sure that is.

    ``score`` is the share of the ``bits`` read (from ``rows`` distinct rows) that the delivery
    predicts; ``p_value`` the chance that one delivery which did not produce the copy would
    predict as many.
    """

    delivery_id: bytes
    score: float
    p_value: float
    runner_up: bytes | None
    runner_up_score: float | None
    bits: int
    rows: int
    confident: bool


def _choices(key: bytes, delivery_id: bytes, digest: bytes, width: int) -> int:
    blocks = (
        hmac.digest(key, _DOMAIN + delivery_id + digest + i.to_bytes(4, "big"), "sha256")
        for i in range((width + 255) // 256)
    )
    return int.from_bytes(b"".join(blocks), "little")


def _deliver(
    lines: Iterable[tuple[str, int]], dst: BinaryIO, key: bytes, delivery_id: bytes, what: str, encoding: str = "utf-8"
) -> FingerprintStats:
    if len(key) < 16:
        raise InvalidInput("key", "a fingerprint key needs at least 16 bytes")
    if len(delivery_id) != 32:
        raise InvalidInput("delivery_id", f"must be 32 bytes, not {len(delivery_id)}")
    receipt = hashlib.sha256()
    rows = bits = size = 0
    encode = codecs.getincrementalencoder(encoding)().encode  # utf-8-sig: one byte order mark, first
    try:
        for text, line_bits in lines:
            line = encode(text)
            dst.write(line)
            receipt.update(line)
            rows, bits, size = rows + 1, bits + line_bits, size + len(line)
    except UnicodeEncodeError as err:
        raise InvalidInput(what, f"row {rows} holds a character {encoding} cannot carry") from err
    return FingerprintStats(rows, bits, size, receipt.digest())


def content_hash(src: BinaryIO) -> bytes:
    """SHA-256 of the bytes of ``src``, to compare with delivery receipts before fingerprints."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: src.read(1 << 20), b""):
        digest.update(chunk)
    return digest.digest()


# ---------------------------------------------------------------- CSV


def _quote_optional(value: str, width: int) -> bool:
    # A lone empty field written bare is a blank line, which CSV readers skip.
    return not _MUST_QUOTE.search(value) and (width > 1 or value != "")


def _csv_digest(values: Sequence[bytes]) -> bytes:
    # Length prefixes keep ["a,b"] and ["a", "b"] apart.
    return hashlib.sha256(b"csv\x00" + b"".join(len(v).to_bytes(8, "big") + v for v in values)).digest()


def _csv_lines(rows: Iterable[Sequence[str]], key: bytes, delivery_id: bytes) -> Iterator[tuple[str, int]]:
    for index, row in enumerate(rows):
        if not row:
            raise InvalidInput("rows", f"row {index} has no fields, which CSV cannot carry")
        choices = _choices(key, delivery_id, _csv_digest([v.encode("utf-8") for v in row]), len(row))
        fields, bits = [], 0
        for i, value in enumerate(row):
            optional = _quote_optional(value, len(row))
            bits += optional
            quoted = not optional or choices >> i & 1
            fields.append('"' + value.replace('"', '""') + '"' if quoted else value)
        yield ",".join(fields) + "\r\n", bits


def fingerprint_csv(rows: Iterable[Sequence[str]], dst: BinaryIO, key: bytes, delivery_id: bytes, *,
                    encoding: str = "utf-8") -> FingerprintStats:
    """Write ``rows`` (the header first, like any row) to ``dst`` as RFC 4180 CSV in ``encoding``,
    fingerprinted for ``delivery_id``; ``csv.reader`` reads back exactly ``rows``."""
    return _deliver(_csv_lines(rows, key, delivery_id), dst, key, delivery_id, "rows", encoding)


def _csv_mark(record: str) -> Mark | None:
    parsed: list[tuple[str, bool]] = []
    pos = -1
    while pos < len(record):
        match = _CSV_FIELD.match(record, pos + 1)
        assert match is not None  # the bare alternative matches the empty string
        quoted, bare = match.groups()
        parsed.append((quoted.replace('""', '"') if quoted is not None else bare, quoted is not None))
        pos = match.end()
        if pos < len(record) and record[pos] != ",":
            return None
    decided = bits = 0
    for i, (value, quoted) in enumerate(parsed):
        if _quote_optional(value, len(parsed)):
            decided |= 1 << i
            bits |= quoted << i
        elif not quoted:
            return None
    return Mark(_csv_digest([v.encode("utf-8") for v, _ in parsed]), decided, bits)


def _csv_marks(src: BinaryIO) -> Iterator[Mark]:
    pending, quotes = bytearray(), 0
    for line in src:
        pending += line
        quotes += line.count(b'"')
        # A record ends at a line break outside quotes; an unterminated last one was cut short.
        if quotes % 2 or not line.endswith(b"\n"):
            continue
        record = pending.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
        pending, quotes = bytearray(), 0
        mark = _csv_mark(record)
        if mark is not None:
            yield mark


# ---------------------------------------------------------------- JSON lines


def _pieces(record: Mapping[str, object]) -> list[tuple[str, str]]:
    return [(json.dumps(k, ensure_ascii=False), json.dumps(v, ensure_ascii=False, separators=(",", ":")))
            for k, v in record.items()]


def _json_digest(pieces: list[tuple[str, str]]) -> bytes:
    canonical = "{" + ",".join(k + ":" + v for k, v in pieces) + "}"
    return hashlib.sha256(b"jsonl\x00" + canonical.encode("utf-8", "replace")).digest()


def _jsonl_lines(records: Iterable[Mapping[str, object]], key: bytes, delivery_id: bytes) -> Iterator[tuple[str, int]]:
    for index, record in enumerate(records):
        if not all(isinstance(k, str) for k in record):
            raise InvalidInput("records", f"record {index} has a key that is not a string")
        pieces = _pieces(record)
        choices = _choices(key, delivery_id, _json_digest(pieces), 2 * len(pieces))
        parts = ["{"]
        for i, (k, v) in enumerate(pieces):
            if i:
                parts.append(", " if choices >> (2 * i - 1) & 1 else ",")
            parts += [k, ": " if choices >> (2 * i) & 1 else ":", v]
        yield "".join(parts) + "}\n", max(2 * len(pieces) - 1, 0)


def fingerprint_jsonl(
    records: Iterable[Mapping[str, object]], dst: BinaryIO, key: bytes, delivery_id: bytes, *, encoding: str = "utf-8"
) -> FingerprintStats:
    """Write ``records`` to ``dst`` as JSON lines in ``encoding``, fingerprinted for ``delivery_id``;
    ``json.loads`` reads back exactly ``records``, keys in the same order."""
    return _deliver(_jsonl_lines(records, key, delivery_id), dst, key, delivery_id, "records", encoding)


def _jsonl_mark(line: str) -> Mark | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not line.startswith("{"):
        return None
    pieces = _pieces(record)
    # Walk the line against the compact pieces: whatever else differs is not our encoding.
    pos, bits = 1, 0
    for i, (k, v) in enumerate(pieces):
        for literal, choice in ([(",", 2 * i - 1)] if i else []) + [(k + ":", 2 * i)]:
            if not line.startswith(literal, pos):
                return None
            pos += len(literal)
            if line.startswith(" ", pos):
                bits |= 1 << choice
                pos += 1
        if not line.startswith(v, pos):
            return None
        pos += len(v)
    if line[pos:] != "}":
        return None
    return Mark(_json_digest(pieces), (1 << max(2 * len(pieces) - 1, 0)) - 1, bits)


def _jsonl_marks(src: BinaryIO) -> Iterator[Mark]:
    for line in src:
        mark = _jsonl_mark(line.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r"))
        if mark is not None:
            yield mark


# ---------------------------------------------------------------- attribution


def extract_marks(src: BinaryIO, kind: Kind) -> Iterator[Mark]:
    """The fingerprint of each row of a (possibly cut, sliced or reordered) copy, in file order;
    rows not in the fingerprinted encoding (garbled, cut short) are skipped."""
    if kind == "csv":
        return _csv_marks(src)
    if kind == "jsonl":
        return _jsonl_marks(src)
    raise InvalidInput("kind", f"{kind!r} is neither 'csv' nor 'jsonl'")


def _matches(key: bytes, delivery_id: bytes, marks: Iterable[Mark]) -> int:
    expected = ((m, _choices(key, delivery_id, m.digest, m.decided.bit_length())) for m in marks)
    return sum((~(bits ^ m.bits) & m.decided).bit_count() for m, bits in expected)


def _tail(matches: int, bits: int) -> float:
    """P(at least ``matches`` of ``bits`` fair coin flips come up right)."""
    return sum(math.comb(bits, i) for i in range(matches, bits + 1)) / (1 << bits)


def attribute(leaked: BinaryIO, kind: Kind, key: bytes, candidates: Iterable[bytes],
              max_bits: int = DEFAULT_MAX_BITS) -> Attribution:
    """The candidate delivery whose fingerprint best matches ``leaked``; :class:`NotAttributable`
    if fewer than :data:`MIN_BITS` bits can be read. ``confident`` holds when the best matches
    beyond chance (:data:`ALPHA`) and the runner-up does not: two that do mean a copy mixed
    from two deliveries."""
    ids = list(dict.fromkeys(candidates))
    if not ids:
        raise InvalidInput("candidates", "there is no delivery to compare against")
    marks: dict[bytes, Mark] = {}
    bits = 0
    for mark in extract_marks(leaked, kind):
        if bits >= max_bits:
            break
        if mark.decided and mark.digest not in marks:
            marks[mark.digest] = mark
            bits += mark.decided.bit_count()
    if bits < MIN_BITS:
        raise NotAttributable(f"only {bits} fingerprint bits could be read, {MIN_BITS} are needed")
    scored = sorted(((_matches(key, d, marks.values()), d) for d in ids), reverse=True)
    (best, best_id), runner = scored[0], scored[1] if len(scored) > 1 else None
    p_value = _tail(best, bits)
    runner_significant = runner is not None and _tail(runner[0], bits) * len(ids) <= ALPHA
    return Attribution(
        delivery_id=best_id, score=best / bits, p_value=p_value,
        runner_up=runner[1] if runner else None, runner_up_score=runner[0] / bits if runner else None,
        bits=bits, rows=len(marks), confident=p_value * len(ids) <= ALPHA and not runner_significant,
    )
