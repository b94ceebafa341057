"""Per-delivery fingerprints: no two consumers get identical copies of a dataset, and a leaked
copy names the delivery (so the grant and the consumer) it came from, or says plainly that it
cannot.

Carriers. A keyed bit picks between two forms that mean the same:

- **mask glyphs**, in the values: each mask character of a masked cell is ``*`` or the
  full-width ``＊`` (both ordinary text in UTF-8, GBK and GB18030). The glyphs live in the values,
  so any tool that keeps the values keeps them: a CSV library re-quoting the copy, a spreadsheet
  re-saving it (values trimmed, quotes dropped), new line endings, a BOM, another text encoding,
  shuffled or cut rows, JSON re-serialised with other spacing, escaping or key order.
- **the encoding**, kept as extra evidence where it survives: a CSV field that may go bare is
  quoted or not; a JSON line has a space after each top-level ``:`` and ``,`` or not. Any
  re-serialisation loses these.

A row's bits are ``HMAC(node key, carrier || delivery id || digest)``, the digest taken over the
row's values *normalised* (NFKC, which folds ``＊`` to ``*``, and runs of whitespace, line breaks
included, made one space, ends trimmed; JSON keys sorted), so neither the carrier's choices nor
re-serialisation change it. Keyed on the row itself, not its position, each row is evidence on
its own and a cut, sampled or shuffled copy needs no alignment. Glyph ``k`` of column ``c`` is
bit ``64 c + k`` (the first 64 of a cell carry), so a literal ``*`` in an unmasked column shifts
no other bit.

Reading a copy: UTF-8, GB18030 or what ``charset-normalizer`` detects (see :func:`decode`), a
byte order mark dropped; CSV with any quoting and CRLF, LF or CR line endings. A *channel* (one
column's glyphs, one column's quoting, one JSON separator) that reads the same in every row of
the copy was written by a tool or a person, not by us (a literal ``*``, every field quoted,
every glyph made ``*``): it is set aside before any candidate is scored, from the copy alone, so
the bound below still holds.

The bound: a delivery is named only when at least :data:`MIN_BITS` bits were read, it predicts
more of them than chance would let any of the candidates predict with probability
:data:`ALPHA`, and no other candidate does (two that do mean a copy mixed from both: neither is
named). Otherwise the answer names no one and says why.

What does not survive: a copy with every masked column deleted (or no masked column to begin
with) and re-serialised; every glyph made one form *and* every field re-quoted; values edited
(a spreadsheet turning ID numbers into ``1.1E+17``, dropping leading zeros, reformatting
dates), a column deleted or added, or columns reordered (the digest changes: those rows are
noise for every candidate); glyphs scrambled or swapped on purpose; a copy in another
delimiter; deliveries fingerprinted before this scheme (v1). Such a copy is attributed to no one.
Repeated rows count once; a record cut short at the end of a copy is skipped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import BinaryIO

import charset_normalizer

from node.errors import InvalidInput
from node.fields import MASK
from node.formats import Kind

MIN_BITS = 32  # fewer bits than this are no evidence against anyone
ALPHA = 1e-6  # the most chance, over all candidates, of naming a delivery that is not the source
DEFAULT_MAX_ROWS = 1024  # far beyond what confidence needs; it bounds the HMACs per candidate

WIDE_MASK = "\uff0a"  # ＊, FULLWIDTH ASTERISK: the other glyph of a mask character
GLYPHS = (MASK, WIDE_MASK)
CELL_GLYPHS = 64  # glyphs of one cell that carry bits

_DOMAIN = b"provledger/delivery-fingerprint/v2/"
ENCODING, GLYPH = "encoding", "glyphs"
_MUST_QUOTE = re.compile(r'[,"\r\n]')
_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,"\r\n]*)')
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_CONTINUATION = re.compile(rb"[\x80-\xbf]{1,3}")  # the tail of a UTF-8 character cut at the start


@dataclass(frozen=True)
class FingerprintStats:
    """One delivery as written: the receipt hash is that of exactly these bytes."""

    rows: int
    bits: int
    size: int
    sha256: bytes


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


def plain_masks(text: str) -> str:
    """``text`` with every mask glyph written :data:`~node.fields.MASK`: what a delivered value
    says, whichever delivery it came from."""
    return text.replace(WIDE_MASK, MASK)


# ---------------------------------------------------------------- the keyed bits


def _normal(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split())


def _choices(key: bytes, carrier: str, delivery_id: bytes, digest: bytes, width: int) -> int:
    label = _DOMAIN + carrier.encode() + b"\x00" + delivery_id + digest
    blocks = (hmac.digest(key, label + i.to_bytes(4, "big"), "sha256") for i in range((width + 255) // 256))
    return int.from_bytes(b"".join(blocks), "little")


def _glyph_positions(column: int, value: str) -> Iterator[tuple[int, int]]:
    """(index in ``value``, bit position) of each mask character of a cell that carries a bit."""
    found = (i for i, c in enumerate(value) if c in GLYPHS)
    for k, i in zip(range(CELL_GLYPHS), found):
        yield i, CELL_GLYPHS * column + k


def _with_glyphs(cells: Sequence[str], masked: Collection[int], choices: int) -> tuple[list[str], int]:
    """``cells`` with each mask character of the ``masked`` columns in the glyph ``choices`` picks."""
    out, bits = list(cells), 0
    for column in (c for c in masked if c < len(out)):  # a short row lacks the column
        chars = list(out[column])
        for i, position in _glyph_positions(column, out[column]):
            chars[i] = GLYPHS[choices >> position & 1]
            bits += 1
        out[column] = "".join(chars)
    return out, bits


def _glyph_bits(cells: Sequence[str], channels: Sequence[str]) -> Iterator[Bit]:
    for column, value in enumerate(cells):
        for i, position in _glyph_positions(column, value):
            yield Bit(GLYPH, position, f"glyphs of {channels[column]}", value[i] == WIDE_MASK)


def _field(name: str) -> str:
    # A field's name as masking reads it: a byte order mark and surrounding blanks set aside.
    return name.lstrip("\ufeff").strip()


def _deliver(lines: Iterable[tuple[str, int]], dst: BinaryIO, key: bytes, delivery_id: bytes, what: str,
             encoding: str) -> FingerprintStats:
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
        raise InvalidInput(what, f"row {rows} holds {err.object[err.start:err.end]!r}, which {encoding} "
                                 "cannot carry") from err
    return FingerprintStats(rows, bits, size, receipt.digest())


# ---------------------------------------------------------------- CSV


def _quote_optional(value: str, width: int) -> bool:
    # A lone empty field written bare is a blank line, which CSV readers skip.
    return not _MUST_QUOTE.search(value) and (width > 1 or value != "")


def _csv_digest(values: Iterable[str]) -> bytes:
    # Length prefixes keep ["a,b"] and ["a", "b"] apart.
    encoded = (_normal(v).encode("utf-8", "surrogatepass") for v in values)
    return hashlib.sha256(b"csv\x00" + b"".join(len(v).to_bytes(8, "big") + v for v in encoded)).digest()


def _csv_lines(rows: Iterable[Sequence[str]], key: bytes, delivery_id: bytes,
               masked: Collection[str]) -> Iterator[tuple[str, int]]:
    fields, columns = {_field(name) for name in masked}, None
    for index, row in enumerate(rows):
        if not row:
            raise InvalidInput("rows", f"row {index} has no fields, which CSV cannot carry")
        digest = _csv_digest(row)
        if columns is None:  # the header names the masked columns, and carries no mask itself
            columns = [i for i, name in enumerate(row) if _field(name) in fields]
            cells, bits = list(row), 0
        else:
            glyphs = _choices(key, GLYPH, delivery_id, digest, CELL_GLYPHS * len(row))
            cells, bits = _with_glyphs(row, columns, glyphs)
        quoting = _choices(key, ENCODING, delivery_id, digest, len(row))
        out = []
        for i, value in enumerate(cells):
            optional = _quote_optional(value, len(row))
            bits += optional
            quoted = not optional or quoting >> i & 1
            out.append('"' + value.replace('"', '""') + '"' if quoted else value)
        yield ",".join(out) + "\r\n", bits


def fingerprint_csv(rows: Iterable[Sequence[str]], dst: BinaryIO, key: bytes, delivery_id: bytes, *,
                    encoding: str = "utf-8", masked: Collection[str] = ()) -> FingerprintStats:
    """Write ``rows`` (the header first, like any row) to ``dst`` as RFC 4180 CSV in ``encoding``,
    fingerprinted for ``delivery_id``; the mask characters of the columns named in ``masked``
    carry bits. ``csv.reader`` reads back ``rows`` with only mask glyphs changed."""
    return _deliver(_csv_lines(rows, key, delivery_id, masked), dst, key, delivery_id, "rows", encoding)


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
                   if quoted is not None and _quote_optional(v, len(cells)))
        channels = [f"column {i}" for i in range(len(cells))]
        yield Mark(_csv_digest(values), (*quoting, *_glyph_bits(values, channels)))


# ---------------------------------------------------------------- JSON lines


def _pieces(record: Mapping[str, object]) -> list[tuple[str, str]]:
    return [(json.dumps(k, ensure_ascii=False), json.dumps(v, ensure_ascii=False, separators=(",", ":")))
            for k, v in record.items()]


def _sorted_keys(record: Mapping[str, object]) -> list[str]:
    return sorted(record, key=lambda k: (_normal(k), k))


def _json_normal(value: object) -> object:
    if isinstance(value, str):
        return _normal(value)
    if isinstance(value, list):
        return [_json_normal(v) for v in value]
    if isinstance(value, dict):
        return {_normal(k): _json_normal(v) for k, v in value.items()}
    return value


def _json_digest(record: Mapping[str, object]) -> bytes:
    canonical = json.dumps(_json_normal(dict(record)), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"jsonl\x00" + canonical.encode("utf-8", "surrogatepass")).digest()


def _jsonl_lines(records: Iterable[Mapping[str, object]], key: bytes, delivery_id: bytes,
                 masked: Collection[str]) -> Iterator[tuple[str, int]]:
    fields = {_field(name) for name in masked}
    for index, record in enumerate(records):
        if not all(isinstance(k, str) for k in record):
            raise InvalidInput("records", f"record {index} has a key that is not a string")
        digest = _json_digest(record)
        keys = _sorted_keys(record)
        cells = [v if isinstance(v := record[k], str) else "" for k in keys]
        columns = [i for i, k in enumerate(keys) if _field(k) in fields]
        glyphs = _choices(key, GLYPH, delivery_id, digest, CELL_GLYPHS * len(keys))
        marked, bits = _with_glyphs(cells, columns, glyphs)
        pieces = _pieces({**record, **{keys[i]: marked[i] for i in columns if isinstance(record[keys[i]], str)}})
        spacing = _choices(key, ENCODING, delivery_id, digest, 2 * len(pieces))
        parts = ["{"]
        for i, (k, v) in enumerate(pieces):
            if i:
                parts.append(", " if spacing >> (2 * i - 1) & 1 else ",")
            parts += [k, ": " if spacing >> (2 * i) & 1 else ":", v]
        yield "".join(parts) + "}\n", bits + max(2 * len(pieces) - 1, 0)


def fingerprint_jsonl(records: Iterable[Mapping[str, object]], dst: BinaryIO, key: bytes, delivery_id: bytes, *,
                      encoding: str = "utf-8", masked: Collection[str] = ()) -> FingerprintStats:
    """Write ``records`` to ``dst`` as JSON lines in ``encoding``, fingerprinted for ``delivery_id``;
    the mask characters of the top-level text fields named in ``masked`` carry bits. ``json.loads``
    reads back ``records``, keys in the same order, with only mask glyphs changed."""
    return _deliver(_jsonl_lines(records, key, delivery_id, masked), dst, key, delivery_id, "records", encoding)


def _spacing_bits(line: str, record: Mapping[str, object]) -> Iterator[Bit]:
    """The separators' spacing, when the line is otherwise the compact form we write."""
    pos, found = 1, []
    for i, (k, v) in enumerate(_pieces(record)):
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
        keys = _sorted_keys(record)
        cells = [v if isinstance(v := record[k], str) else "" for k in keys]
        spacing = _spacing_bits(line, record) if line.startswith("{") else iter(())
        yield Mark(_json_digest(record), (*spacing, *_glyph_bits(cells, [f"field {k}" for k in keys])))


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
            expected = _choices(key, carrier, delivery_id, digest, decided.bit_length())
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
    beyond chance (see the module's docstring for the bound); otherwise no one, and why."""
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
