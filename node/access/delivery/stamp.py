"""Writing a fingerprinted copy: each delivery's rows as CSV or JSON lines whose mask glyphs and
encoding choices are keyed to the delivery (the scheme: :mod:`node.access.delivery.fingerprint`)."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from node.access.delivery.fingerprint import (
    CELL_GLYPHS, ENCODING, GLYPH, GLYPHS, choices, csv_digest, glyph_positions, json_digest, json_pieces,
    quote_optional, sorted_keys, text_cells,
)
from node.access.delivery.masking import field_key
from node.errors import InvalidInput


@dataclass(frozen=True)
class FingerprintStats:
    """One delivery as written: the receipt hash is that of exactly these bytes."""

    rows: int
    bits: int
    size: int
    sha256: bytes


def _with_glyphs(cells: Sequence[str], masked: Collection[int], glyphs: int) -> tuple[list[str], int]:
    """``cells`` with each mask character of the ``masked`` columns in the glyph ``glyphs`` picks."""
    out, bits = list(cells), 0
    for column in (c for c in masked if c < len(out)):  # a short row lacks the column
        chars = list(out[column])
        for i, position in glyph_positions(column, out[column]):
            chars[i] = GLYPHS[glyphs >> position & 1]
            bits += 1
        out[column] = "".join(chars)
    return out, bits


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


def _csv_lines(rows: Iterable[Sequence[str]], key: bytes, delivery_id: bytes,
               masked: Collection[str]) -> Iterator[tuple[str, int]]:
    fields, columns = {field_key(name) for name in masked}, None
    for index, row in enumerate(rows):
        if not row:
            raise InvalidInput("rows", f"row {index} has no fields, which CSV cannot carry")
        digest = csv_digest(row)
        if columns is None:  # the header names the masked columns, and carries no mask itself
            columns = [i for i, name in enumerate(row) if field_key(name) in fields]
            cells, bits = list(row), 0
        else:
            glyphs = choices(key, GLYPH, delivery_id, digest, CELL_GLYPHS * len(row))
            cells, bits = _with_glyphs(row, columns, glyphs)
        quoting = choices(key, ENCODING, delivery_id, digest, len(row))
        out = []
        for i, value in enumerate(cells):
            optional = quote_optional(value, len(row))
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


# ---------------------------------------------------------------- JSON lines


def _jsonl_lines(records: Iterable[Mapping[str, object]], key: bytes, delivery_id: bytes,
                 masked: Collection[str]) -> Iterator[tuple[str, int]]:
    fields = {field_key(name) for name in masked}
    for index, record in enumerate(records):
        if not all(isinstance(k, str) for k in record):
            raise InvalidInput("records", f"record {index} has a key that is not a string")
        digest = json_digest(record)
        keys = sorted_keys(record)
        columns = [i for i, k in enumerate(keys) if field_key(k) in fields]
        glyphs = choices(key, GLYPH, delivery_id, digest, CELL_GLYPHS * len(keys))
        marked, bits = _with_glyphs(text_cells(record, keys), columns, glyphs)
        pieces = json_pieces({**record, **{keys[i]: marked[i] for i in columns if isinstance(record[keys[i]], str)}})
        spacing = choices(key, ENCODING, delivery_id, digest, 2 * len(pieces))
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
