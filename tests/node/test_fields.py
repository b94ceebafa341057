"""The personal-data rules of node.fields and the format table of node.formats, on published
examples and the edge cases each module's docstring names."""

from __future__ import annotations

from datetime import date

import pytest

from hypothesis import given
from hypothesis import strategies as st

from node.fields import (FieldClass, checked_id_number, has_shape, id_check_character, id_number_key, id_number_problem,
                         id_symbols, is_id_number, mask_value)
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


# A first-generation number of the person of the standard's example: born 1949-12-31, area 110105, sequence 002.
FIRST_GENERATION = "110105491231002"
_WIDE = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@pytest.mark.parametrize("spelling", [
    STANDARD_EXAMPLE, STANDARD_EXAMPLE.lower(), STANDARD_EXAMPLE.translate(_WIDE),
    STANDARD_EXAMPLE.lower().translate(_WIDE), f"  110105 19491231 002x\t", "110105-19491231-002X",
    "110105\u300019491231\u3000002X", FIRST_GENERATION, FIRST_GENERATION.translate(_WIDE), " 110105 491231 002 ",
])
def test_every_spelling_of_one_person_reads_as_the_18_character_form(spelling: str) -> None:
    assert id_number_problem(spelling) is None
    assert checked_id_number(spelling) == id_number_key(spelling) == STANDARD_EXAMPLE


def test_the_15_digit_upgrade_inserts_19_and_computes_the_check_character() -> None:
    # The upgrade of the standard's own example person gives the standard's own 18-character number.
    assert id_number_key(FIRST_GENERATION) == FIRST_GENERATION[:6] + "19" + FIRST_GENERATION[6:] + "X"
    assert id_number_key("１２３") == "123"  # no ID number: kept as its symbols, matching no person's


@pytest.mark.parametrize(("text", "says"), [
    ("110105194912310021", "check character"),
    ("11010519491231002Y", "other than digits"),
    ("1101051949123100", "16 characters"),
    ("110105491331002", "birth date"),
    ("11010519490230002" + id_check_character("11010519490230002"), "birth date"),  # 30 February
    ("   ", "is empty"),
])
def test_a_number_that_is_no_id_number_is_refused_saying_why_and_never_in_full(text: str, says: str) -> None:
    problem = id_number_problem(text)
    assert problem is not None and says in problem
    with pytest.raises(ValueError, match=says) as refused:
        checked_id_number(text)
    if text.strip():
        assert id_symbols(text) not in str(refused.value)


def test_a_birth_after_latest_is_refused() -> None:
    assert checked_id_number(STANDARD_EXAMPLE, date(1949, 12, 31)) == STANDARD_EXAMPLE
    with pytest.raises(ValueError, match="on or before 1949-12-30"):
        checked_id_number(STANDARD_EXAMPLE, date(1949, 12, 30))


_BODIES = st.builds(lambda area, born, seq: f"{area:06d}{born:%Y%m%d}{seq:03d}",
                    st.integers(110000, 659999), st.dates(date(1900, 1, 1), date(1999, 12, 31)), st.integers(0, 999))


@given(_BODIES, st.lists(st.sampled_from([" ", "\u3000", "-"]), max_size=4), st.booleans(), st.booleans())
def test_any_spelling_of_a_valid_number_finds_it_and_any_other_check_character_is_refused(
        body: str, gaps: list[str], wide: bool, lower: bool) -> None:
    number = body + id_check_character(body)
    spelled = number.lower() if lower else number
    spelled = spelled.translate(_WIDE) if wide else spelled
    for i, gap in enumerate(gaps):
        at = (i * 5 + 3) % len(spelled)
        spelled = spelled[:at] + gap + spelled[at:]
    assert checked_id_number(spelled) == number
    for wrong in (c for c in "0123456789X" if c != number[17]):
        assert id_number_problem(body + wrong) is not None and "check character" in str(id_number_problem(body + wrong))
    # The 15-digit form of a 20th-century birth reads as this very number.
    assert id_number_key(body[:6] + body[8:]) == number


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
