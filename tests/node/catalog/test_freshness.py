"""Freshness (数据滞后): the last version's time against the declared update interval."""

from __future__ import annotations

import pytest

from node.catalog.freshness import DAY, freshness

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("last", "interval", "state", "summary"), [
    (NOW - DAY / 2, DAY, "current", "current"),
    (NOW - DAY, DAY, "current", "current"),
    (NOW - 4 * DAY, DAY, "late", "late by 3 days"),
    (NOW - 2 * DAY, DAY, "late", "late by 1 day"),
    (NOW - DAY - 3 * 3600, DAY, "late", "late by 3 h"),
    (NOW - 400 * DAY, 0, "unscheduled", "no schedule"),
    (None, DAY, "empty", "no version yet"),
])
def test_freshness_compares_the_last_version_with_the_update_interval(
        last: float | None, interval: int, state: str, summary: str) -> None:
    found = freshness(last, interval, NOW)

    assert (found.state, found.summary) == (state, summary)


def test_a_version_stamped_after_now_is_current_not_negative() -> None:
    found = freshness(NOW + 60, DAY, NOW)

    assert (found.state, found.age, found.late_by) == ("current", 0.0, 0.0)
