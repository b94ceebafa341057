"""The personal-data rules of node.fields and the format table of node.formats, on published
examples and the edge cases each module's docstring names."""

from __future__ import annotations

from datetime import date

import pytest

from node.fields import FieldClass, has_shape, id_check_character, is_id_number, mask_value
from node.formats import FORMATS, format_of, kind_of

# The worked example of GB 11643-1999 (appendix), whose check character is ten, written X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_the_check_character_of_the_standards_example() -> None:
    assert id_check_character(STANDARD_EXAMPLE[:17]) == "X"
    assert id_check_character("11010119900307000") in "0123456789X"


@pytest.mark.parametrize(("text", "ok"), [
    (STANDARD_EXAMPLE, True),
    (STANDARD_EXAMPLE.lower(), True),  # a typed lower-case x is the same character
    ("110105 19491231 002X", True),  # grouped by spaces
    ("110105194912310021", False),  # wrong check character
    ("11010519491231002Y", False),
    ("110105491231002", True),  # the old 15-digit form, born 1949-12-31
    ("110105491331002", False),  # month 13
])
def test_id_number_shape(text: str, ok: bool) -> None:
    assert is_id_number(text) is ok
    assert has_shape(FieldClass.ID_NUMBER, text) is ok


def test_a_birth_after_latest_is_not_valid() -> None:
    assert is_id_number(STANDARD_EXAMPLE, date(1949, 12, 31))
    assert not is_id_number(STANDARD_EXAMPLE, date(1949, 12, 30))


def test_masking_reads_a_lower_case_check_character_as_x() -> None:
    assert mask_value(FieldClass.ID_NUMBER, STANDARD_EXAMPLE.lower()) == "110105********002x"
    assert mask_value(FieldClass.ID_NUMBER, "11010519491231002Y") == "*" * 18


@pytest.mark.parametrize(("name", "kind", "media"), [
    ("a.csv", "csv", "text/csv"), ("b.CSV", "csv", "text/csv"),
    ("c.jsonl", "jsonl", "application/x-ndjson"), ("d.ndjson", "jsonl", "application/x-ndjson"),
    ("e.parquet", None, None), ("folder", None, None),
])
def test_the_format_table(name: str, kind: str | None, media: str | None) -> None:
    assert kind_of(name) == kind
    found = format_of(name)
    assert (found.media_type if found else None) == media
    if found is not None:
        assert FORMATS[found.kind] is found
