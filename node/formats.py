"""The one table of the file formats a dataset version may have: names, suffixes, media types.

A version whose file has one of these suffixes is tabular: its shape is read at registration,
its quality can be checked, and its deliveries are masked and fingerprinted record by record.
Any other file (or a directory) is anchored and delivered as bytes.

A tabular file's text encoding (:data:`ENCODINGS`) is declared by its owner or detected at
registration (:class:`TextCheck`): the whole file must decode in it, or it is refused. Its
hashes stay over its bytes as they are; deliveries are in that encoding or in UTF-8
(:func:`transcode`).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

import charset_normalizer

from node.errors import InvalidInput

Kind = Literal["csv", "jsonl"]
"""A tabular format: CSV with a header, or JSON lines (one object per line)."""


@dataclass(frozen=True)
class Format:
    """A tabular format: its ``kind``, the ``suffix`` a file of it gets, and its ``media_type``."""

    kind: Kind
    suffix: str
    media_type: str


FORMATS: dict[str, Format] = {
    "csv": Format("csv", ".csv", "text/csv"),
    "jsonl": Format("jsonl", ".jsonl", "application/x-ndjson"),
}
"""Each tabular format by its name (its ``kind``)."""
SUFFIXES: dict[str, Kind] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""Every file suffix read as a tabular format (lower case), with the format it is read as."""


def kind_of(path: str | PurePath) -> Kind | None:
    """The tabular format of a file named ``path``, by its suffix in any case; None when it has none."""
    return SUFFIXES.get(PurePath(path).suffix.lower())


def format_of(path: str | PurePath) -> Format | None:
    """The :class:`Format` of a file named ``path``; None when it is not tabular."""
    kind = kind_of(path)
    return FORMATS[kind] if kind is not None else None


# ---------------------------------------------------------------- text encodings

ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
"""The text encodings a tabular version may be in, by the canonical name it is recorded with:
UTF-8, UTF-8 with a byte order mark, GBK (GB2312 is a subset) and GB18030 (a superset of GBK)."""
_ALIASES = {"gb2312": "gbk", "cp936": "gbk", "utf-8-bom": "utf-8-sig"}
_GB = frozenset({"gbk", "gb18030", "gb2312", "hz", "cp936"})
_SAMPLE = 1 << 16


def canonical_encoding(name: str) -> str:
    """The canonical name of encoding ``name`` (any case or alias Python knows); refused unless
    it is one of :data:`ENCODINGS`."""
    lowered = name.strip().lower().replace("_", "-")
    lowered = _ALIASES.get(lowered, lowered)
    try:
        found = codecs.lookup(lowered).name.replace("_", "-")
    except LookupError:
        found = lowered
    found = _ALIASES.get(found, found)
    if found not in ENCODINGS:
        raise InvalidInput("encoding", f"{name!r} is not one of {', '.join(ENCODINGS)}")
    return found


def _guess(sample: bytes) -> list[str]:
    """The encodings charset-normalizer finds plausible for ``sample``, best first."""
    return [match.encoding.replace("_", "-") for match in charset_normalizer.from_bytes(sample)]


class TextCheck:
    """Decodes a file strictly, as it streams past, in every supported encoding (or only the
    declared one), to settle the file's encoding at the end (:meth:`encoding`)."""

    def __init__(self, declared: str | None = None) -> None:
        self.declared = canonical_encoding(declared) if declared else None
        tried = ["utf-8"] if self.declared in ("utf-8", "utf-8-sig") else [self.declared or "utf-8"]
        if self.declared is None:
            tried += ["gbk", "gb18030"]
        self._decoders = {name: codecs.getincrementaldecoder(name)() for name in tried}
        self._failed: dict[str, str] = {}
        self._seen = 0
        self._lines = 0
        self.head = bytearray()

    def __call__(self, chunk: bytes | memoryview) -> None:
        data = bytes(chunk)
        ascii_only = data.isascii()  # reads the same in every encoding here: only a pending tail can fail
        for name, decoder in list(self._decoders.items()):
            if not (ascii_only and not decoder.getstate()[0]):
                self._decode(name, decoder, data, final=False)
        if len(self.head) < _SAMPLE:
            self.head += data[: _SAMPLE - len(self.head)]
        self._seen += len(data)
        self._lines += data.count(b"\n")

    def _decode(self, name: str, decoder: codecs.IncrementalDecoder, data: bytes, *, final: bool) -> None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(data, final=final)
        except UnicodeDecodeError as err:
            at = max(err.start - pending, 0)
            line = self._lines + data[:at].count(b"\n") + 1
            where = f"byte {self._seen + at + 1} (line {line})"
            self._failed[name] = f"{where}: {err.reason}" if data else f"the end: {err.reason}"
            del self._decoders[name]

    def encoding(self) -> str:
        """The file's encoding, by its canonical name: the declared one if the whole file decodes
        in it; else UTF-8 (with or without a byte order mark) if it decodes as UTF-8; else GBK or
        GB18030 if it decodes so and charset-normalizer finds it plausible. Refused (with what
        charset-normalizer makes of it) when the file decodes in none of them."""
        for name, decoder in list(self._decoders.items()):
            self._decode(name, decoder, b"", final=True)
        bom = self.head.startswith(codecs.BOM_UTF8)
        if self.declared is not None:
            if self._decoders:
                return "utf-8-sig" if bom and self.declared.startswith("utf-8") else self.declared
            raise InvalidInput("file", f"is not {self.declared} text: at {self._failed[self.declared]}")
        if "utf-8" in self._decoders:
            return "utf-8-sig" if bom else "utf-8"
        # Cut at the last line break, so the sample does not end inside a character.
        sample = bytes(self.head[: self.head.rfind(b"\n") + 1] or self.head)
        guesses = _guess(sample)
        gb = [name for name in ("gbk", "gb18030") if name in self._decoders]
        if gb and (not guesses or _GB.intersection(guesses)):
            return gb[0]
        looks = f"charset-normalizer reads it as {guesses[0]}" if guesses else "it does not look like text"
        reason = (f"decodes as {gb[-1]} only by accident ({looks}); if it truly is {gb[-1]}, declare its encoding"
                  if gb else f"is neither UTF-8 (at {self._failed['utf-8']}) nor GBK/GB18030 text ({looks})")
        raise InvalidInput("file", f"{reason}; the encodings read are {', '.join(ENCODINGS)}")


def transcode(chunks: Iterable[bytes], source: str, target: str) -> Iterator[bytes]:
    """``chunks`` of text in encoding ``source`` re-encoded in ``target`` (a byte order mark
    read is dropped; one written only by ``utf-8-sig``); the same chunks when both are the same."""
    if source == target:
        yield from chunks
        return
    decoder = codecs.getincrementaldecoder(source)()
    encoder = codecs.getincrementalencoder(target)()
    for chunk in chunks:
        if text := decoder.decode(chunk):
            yield encoder.encode(text)
    yield encoder.encode(decoder.decode(b"", final=True), final=True)
