"""Per-delivery fingerprints: no two consumers get identical copies of a dataset, and a leaked
copy names the delivery (so the grant and the consumer) it came from, or says plainly that it
cannot.

This module holds the scheme both sides share: the glyphs, the normalisation, the row digests
and the keyed choices. :mod:`node.access.delivery.stamp` writes a fingerprinted copy;
:mod:`node.access.delivery.leaks` reads the marks of a leaked one and attributes it.

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

Reading a copy: UTF-8, GB18030 or what ``charset-normalizer`` detects (see :func:`~node.access.delivery.leaks.decode`), a
byte order mark dropped; CSV with any quoting and CRLF, LF or CR line endings. A *channel* (one
column's glyphs, one column's quoting, one JSON separator) that reads the same in every row of
the copy was written by a tool or a person, not by us (a literal ``*``, every field quoted,
every glyph made ``*``): it is set aside before any candidate is scored, from the copy alone, so
the bound below still holds.

The bound: a delivery is named only when at least :data:`~node.access.delivery.leaks.MIN_BITS` bits were read, it predicts
more of them than chance would let any of the candidates predict with probability
:data:`~node.access.delivery.leaks.ALPHA`, and no other candidate does (two that do mean a copy mixed from both: neither is
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

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence

from node.fields import MASK

WIDE_MASK = "\uff0a"  # ＊, FULLWIDTH ASTERISK: the other glyph of a mask character
GLYPHS = (MASK, WIDE_MASK)
CELL_GLYPHS = 64  # glyphs of one cell that carry bits

_DOMAIN = b"provledger/delivery-fingerprint/v2/"
ENCODING, GLYPH = "encoding", "glyphs"  # the two carriers
_MUST_QUOTE = re.compile(r'[,"\r\n]')


def plain_masks(text: str) -> str:
    """``text`` with every mask glyph written :data:`~node.fields.MASK`: what a delivered value
    says, whichever delivery it came from."""
    return text.replace(WIDE_MASK, MASK)


def normal(value: str) -> str:
    """``value`` as the digests read it: NFKC (``＊`` is ``*``), runs of whitespace one space."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


def choices(key: bytes, carrier: str, delivery_id: bytes, digest: bytes, width: int) -> int:
    """The first ``width`` keyed bits of ``carrier`` for the row with ``digest`` in ``delivery_id``."""
    label = _DOMAIN + carrier.encode() + b"\x00" + delivery_id + digest
    blocks = (hmac.digest(key, label + i.to_bytes(4, "big"), "sha256") for i in range((width + 255) // 256))
    return int.from_bytes(b"".join(blocks), "little")


def glyph_positions(column: int, value: str) -> Iterator[tuple[int, int]]:
    """(index in ``value``, bit position) of each mask character of a cell that carries a bit."""
    found = (i for i, c in enumerate(value) if c in GLYPHS)
    for k, i in zip(range(CELL_GLYPHS), found):
        yield i, CELL_GLYPHS * column + k


def quote_optional(value: str, width: int) -> bool:
    """Whether a CSV field of a row ``width`` fields wide may go bare as well as quoted (a bit)."""
    # A lone empty field written bare is a blank line, which CSV readers skip.
    return not _MUST_QUOTE.search(value) and (width > 1 or value != "")


def csv_digest(values: Iterable[str]) -> bytes:
    """The digest of a CSV row's normalised values."""
    # Length prefixes keep ["a,b"] and ["a", "b"] apart.
    encoded = (normal(v).encode("utf-8", "surrogatepass") for v in values)
    return hashlib.sha256(b"csv\x00" + b"".join(len(v).to_bytes(8, "big") + v for v in encoded)).digest()


def json_pieces(record: Mapping[str, object]) -> list[tuple[str, str]]:
    """Each key and value of ``record`` in the compact JSON we write."""
    return [(json.dumps(k, ensure_ascii=False), json.dumps(v, ensure_ascii=False, separators=(",", ":")))
            for k, v in record.items()]


def sorted_keys(record: Mapping[str, object]) -> list[str]:
    """The keys of a JSON record in the order its glyph columns are numbered."""
    return sorted(record, key=lambda k: (normal(k), k))


def text_cells(record: Mapping[str, object], keys: Sequence[str]) -> list[str]:
    """The values of ``keys`` that are text (others ""): the cells whose glyphs may carry bits."""
    return [v if isinstance(v := record[k], str) else "" for k in keys]


def _json_normal(value: object) -> object:
    if isinstance(value, str):
        return normal(value)
    if isinstance(value, list):
        return [_json_normal(v) for v in value]
    if isinstance(value, dict):
        return {normal(k): _json_normal(v) for k, v in value.items()}
    return value


def json_digest(record: Mapping[str, object]) -> bytes:
    """The digest of a JSON record's normalised values, keys sorted."""
    canonical = json.dumps(_json_normal(dict(record)), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"jsonl\x00" + canonical.encode("utf-8", "surrogatepass")).digest()
