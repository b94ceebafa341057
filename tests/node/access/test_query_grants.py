"""A query grant's terms in words, as the reviewer and the consumer read them: ε as decimals from
micro-ε, k, and the bounds as their numbers were written (or said unreadable, never guessed)."""

from __future__ import annotations

import pytest

from node.access.query_grants import Bound, terms_of
from node.models import Grant


def _grant(bounds: str | None, *, budget: int | None = 5_000_000, cap: int | None = 1_000_000,
           k: int | None = 10) -> Grant:
    return Grant(grant_id="0x" + "ab" * 32, dataset_id="0x" + "cd" * 32, grantee="0x" + "11" * 20, status="pending",
                 purpose_hash="0x" + "00" * 32, fields=[], actions=2, duration=86400, max_uses=10, requested_block=1,
                 epsilon_budget=budget, epsilon_cap=cap, min_group_size=k, bounds=bounds)


@pytest.mark.parametrize(("bounds", "words"), [
    ('{"年龄":[0,120],"补助金额":[0,5000]}', "bounds 年龄 0–120, 补助金额 0–5000"),
    ('{"比例":[0.25,1.5],"温度":[-40,60]}', "bounds 比例 0.25–1.5, 温度 -40–60"),
    ("{}", "no bounds (no SUM or AVG)"),
    (None, "no bounds (no SUM or AVG)"),
    ('{"年龄":[120,0]}', 'bounds unreadable ({"年龄":[120,0]})'),
    ("not json", "bounds unreadable (not json)"),
])
def test_terms_read_in_words_with_epsilon_as_decimals(bounds: str | None, words: str) -> None:
    terms = terms_of(_grant(bounds))
    assert terms is not None
    assert terms.words == f"query grant: ε budget 5, at most 1 per query, groups of at least 10, {words}"


def test_fractional_epsilon_and_the_bounds_as_written() -> None:
    terms = terms_of(_grant('{"年龄":[0,120]}', budget=2_500_000, cap=250_001, k=2))
    assert terms is not None
    assert (terms.epsilon_budget, terms.epsilon_cap, terms.min_group_size) == ("2.5", "0.250001", 2)
    assert terms.bounds == [Bound("年龄", "0", "120")]


def test_a_grant_without_privacy_terms_has_none() -> None:
    assert terms_of(_grant(None, budget=None, cap=None, k=None)) is None
