"""The one table of the file formats a dataset version may have: names, suffixes, media types.

A version whose file has one of these suffixes is tabular: its shape is read at registration,
its quality can be checked, and its deliveries are masked and fingerprinted record by record.
Any other file (or a directory) is anchored and delivered as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

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
