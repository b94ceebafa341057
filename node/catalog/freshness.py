"""Data freshness (数据滞后): the time since a dataset's last version against the update interval
its owner declared, for the catalog, its DCAT form, the CLI and the dashboard alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DAY = 86400

State = Literal["current", "late", "unscheduled", "empty"]


def duration(seconds: float) -> str:
    """A short human duration: ``45 s``, ``12 min``, ``3 h``, ``2 d``."""
    seconds = abs(seconds)
    for size, unit in ((DAY, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}" if seconds < 10 * size else f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class Freshness:
    """How long since the last version (``age``, None before the first), against ``interval``
    (0: the owner declared no schedule)."""

    state: State
    age: float | None
    interval: int

    @property
    def late_by(self) -> float:
        """Seconds past the time the next version was due (0 when not late)."""
        return max(0.0, self.age - self.interval) if self.state == "late" and self.age is not None else 0.0

    @property
    def share(self) -> float:
        """The share of the interval already gone (1 and above: overdue)."""
        return 0.0 if self.age is None or not self.interval else self.age / self.interval

    @property
    def summary(self) -> str:
        """"current", "late by N days" (or hours, minutes), "no schedule" or "no version yet"."""
        if self.state == "late":
            days = int(self.late_by // DAY)
            return f"late by {days} day{'' if days == 1 else 's'}" if days else f"late by {duration(self.late_by)}"
        return {"current": "current", "unscheduled": "no schedule", "empty": "no version yet"}[self.state]

    @property
    def label(self) -> str:
        if self.age is None:
            return "no version yet"
        ago = f"updated {duration(self.age)} ago"
        if not self.interval:
            return f"{ago}; no update interval"
        due = self.interval - self.age
        return f"{ago}; expected every {duration(self.interval)}, " + (
            f"next due in {duration(due)}" if due >= 0 else f"overdue by {duration(due)}")


def freshness(last: float | None, interval: int, now: float) -> Freshness:
    """The freshness of a dataset whose last version came at ``last`` (seconds since the epoch;
    None: no version yet), expected every ``interval`` seconds (0: no schedule)."""
    if last is None:
        return Freshness("empty", None, interval)
    age = max(0.0, now - last)
    if not interval:
        return Freshness("unscheduled", age, 0)
    return Freshness("current" if age <= interval else "late", age, interval)
