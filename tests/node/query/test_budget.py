"""micro-ε: text and integers round-trip exactly, and a split spends exactly what was given."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.errors import InvalidInput
from node.query.budget import MAX_MICRO, epsilon_micro, epsilon_text, split


@pytest.mark.parametrize(("text", "micro"), [("0.5", 500_000), ("1", 1_000_000), ("2.25", 2_250_000),
                                             ("0.000001", 1), (" 3 ", 3_000_000), ("1e-3", 1_000),
                                             ("10.000000", 10_000_000)])
def test_epsilon_micro_reads_text(text: str, micro: int) -> None:
    assert epsilon_micro(text) == micro
    assert epsilon_micro(Decimal(text.strip())) == micro


@pytest.mark.parametrize(("micro", "text"), [(500_000, "0.5"), (1_000_000, "1"), (1, "0.000001"),
                                             (2_250_000, "2.25"), (0, "0"), (10_000_000, "10")])
def test_epsilon_text_is_the_shortest_decimal(micro: int, text: str) -> None:
    assert epsilon_text(micro) == text


@pytest.mark.parametrize(("value", "named"), [
    ("0", "above zero"), ("-0.5", "above zero"), ("0.0000001", "finer than one micro-ε"),
    ("1.2345678", "finer than one micro-ε"), ("abc", "not a number"), ("", "not a number"),
    ("NaN", "not a finite number"), ("Infinity", "not a finite number"), ("1e30", "more than the chain can hold"),
])
def test_epsilon_micro_refuses_by_name(value: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=named) as refused:
        epsilon_micro(value)
    assert refused.value.field == "epsilon"


def test_split_refuses_what_would_leave_a_part_nothing() -> None:
    with pytest.raises(InvalidInput, match="at least one micro-ε"):
        split(2, 3)
    with pytest.raises(InvalidInput, match="0 parts"):
        split(10, 0)
    with pytest.raises(InvalidInput, match="below zero"):
        epsilon_text(-1)


@given(st.integers(min_value=1, max_value=MAX_MICRO))
def test_text_and_micro_round_trip(micro: int) -> None:
    assert epsilon_micro(epsilon_text(micro)) == micro


@given(st.integers(min_value=1, max_value=MAX_MICRO), st.integers(min_value=1, max_value=500))
def test_split_is_exact_and_even(epsilon: int, parts: int) -> None:
    if epsilon < parts:
        with pytest.raises(InvalidInput):
            split(epsilon, parts)
        return
    shares = split(epsilon, parts)
    assert sum(shares) == epsilon and len(shares) == parts
    assert max(shares) - min(shares) <= 1 and min(shares) >= 1
