"""What every part of `make bench` shares: a figure beside its baseline, timing, percentiles,
the machine's load, and the table as markdown."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Figure:
    """One measured figure beside its baseline, run in the same process on the same machine.

    ``ratio`` is value / baseline. With ``speedup`` (lower is better, and the baseline is another
    way to get the same result) the table shows baseline / value as "N x faster" instead.
    ``baseline`` is None where a figure has no baseline worth measuring.
    """

    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    speedup: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between the closest ranks."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def ratio_text(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio is None:
        return "—"
    if figure.speedup:
        return f"{1 / ratio:,.0f}x faster" if ratio < 0.1 else f"{1 / ratio:.2f}x faster"
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def markdown_table(figures: Sequence[Figure]) -> str:
    lines = ["| figure | value | baseline | ratio | target |", "| --- | --- | --- | --- | --- |"]
    for f in figures:
        baseline = "—" if f.baseline is None else f"{number(f.baseline, f.unit)}, {f.baseline_name}"
        lines.append(f"| {f.name} | {number(f.value, f.unit)} | {baseline} | {ratio_text(f)} | {f.target} |")
    return "\n".join(lines)
