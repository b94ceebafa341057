"""What every part of `make bench` shares: a figure beside its baseline and its target, timing,
percentiles, the machine's load, the table as markdown, and the README's Figures table written
from ``bench/results.json`` (``python -m scripts.bench_figures --readme``, or ``make figures``)."""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Op = Literal[">=", "<="]
Of = Literal["value", "ratio", "speedup"]
_CLAUSE = re.compile(r"(>=|<=)\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(x faster|x|%)?")


@dataclass(frozen=True)
class Bound:
    """One clause of a target, that a figure meets or misses: its value (``of="value"``), its
    ratio to the baseline, or its speedup over the baseline (baseline / value) against ``limit``."""

    op: Op
    limit: float
    of: Of = "value"

    def holds(self, figure: Figure) -> bool | None:
        """Whether ``figure`` meets this clause; None when it has no baseline to compare with."""
        ratio = figure.ratio
        if self.of == "value":
            measured = figure.value
        elif ratio is None or (self.of == "speedup" and ratio == 0):
            return None
        else:
            measured = ratio if self.of == "ratio" else 1 / ratio
        return measured >= self.limit if self.op == ">=" else measured <= self.limit

    @staticmethod
    def parse(text: str) -> tuple[Bound, ...]:
        """The clauses a target's text states: ``>= 2,000`` (the value, in the figure's unit),
        ``<= 2x`` (the ratio), ``>= 80%`` (the ratio, as a share of the baseline), ``>= 50x
        faster`` (the speedup). Text stating none (``reported``) makes no target; a figure whose
        unit is itself a share (``% of a core``) gives its bounds explicitly."""
        found = []
        for op, number, suffix in _CLAUSE.findall(text):
            limit = float(number.replace(",", ""))
            if suffix == "x faster":
                found.append(Bound(op, limit, "speedup"))
            elif suffix == "x":
                found.append(Bound(op, limit, "ratio"))
            elif suffix == "%":
                found.append(Bound(op, limit / 100, "ratio"))
            else:
                found.append(Bound(op, limit))
        return tuple(found)


@dataclass
class Figure:
    """One measured figure beside its baseline, run in the same process on the same machine.

    ``ratio`` is value / baseline. With ``speedup`` (lower is better, and the baseline is another
    way to get the same result) the table shows baseline / value as "N x faster" instead.
    ``baseline`` is None where a figure has no baseline worth measuring.

    ``target`` says the target in words; ``goal`` is the same target as clauses that are all to
    hold, read from the words (:meth:`Bound.parse`) unless given. :attr:`met` compares.
    """

    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    speedup: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    goal: tuple[Bound, ...] | None = None

    def __post_init__(self) -> None:
        if self.goal is None:
            self.goal = Bound.parse(self.target)

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def met(self) -> bool | None:
        """Whether every clause of the goal holds; None with no goal, or none that can be judged."""
        verdicts = [bound.holds(self) for bound in self.goal or ()]
        if not verdicts or None in verdicts:
            return None
        return all(verdicts)

    def to_json(self) -> dict[str, Any]:
        """As ``results.json`` holds it (and :meth:`from_json` reads it back)."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "baseline": self.baseline,
                "baseline_name": self.baseline_name, "target": self.target, "speedup": self.speedup,
                "raw": self.raw, "goal": [vars(b) for b in self.goal or ()], "ratio": self.ratio, "met": self.met}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        """A figure from ``results.json``; one written before goals were stored has its goal read
        from its target's words."""
        goal = data.get("goal")
        return cls(data["name"], data["value"], data["unit"], data["baseline"], data["baseline_name"], data["target"],
                   speedup=data.get("speedup", False), raw=data.get("raw", {}),
                   goal=None if goal is None else tuple(Bound(**b) for b in goal))


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


def status_text(figure: Figure) -> str:
    met = figure.met
    return "—" if met is None else "met" if met else "missed"


def markdown_table(figures: Sequence[Figure]) -> str:
    lines = ["| figure | value | baseline | ratio | target | status |", "| --- | --- | --- | --- | --- | --- |"]
    for f in figures:
        baseline = "—" if f.baseline is None else f"{number(f.baseline, f.unit)}, {f.baseline_name}"
        lines.append(f"| {f.name} | {number(f.value, f.unit)} | {baseline} | {ratio_text(f)} | {f.target} "
                     f"| {status_text(f)} |")
    return "\n".join(lines)


def targets_met(figures: Sequence[Figure]) -> str:
    """How many of the figures that have a target met it, in words."""
    judged = [f.met for f in figures if f.met is not None]
    return f"{sum(judged)} of {len(judged)} targets met"


# ---------------------------------------------------------------- the README's table, from results.json

README_START = "<!-- figures: written by `make figures` from bench/results.json; edit there, not here -->"
README_END = "<!-- figures: end -->"


def results_summary(results: dict[str, Any]) -> str:
    """The line over the README's table: when, on what, under what load, what failed."""
    machine = results.get("machine", {})
    loads = ", ".join(f"{part} {entry['before'][0]:.2f}" for part, entry in results.get("load_average", {}).items()
                      if entry.get("before"))
    figures = [Figure.from_json(f) for f in results["figures"]]
    when = datetime.fromisoformat(results["date"]).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"`make bench` of {when}: {machine.get('cores', '?')} cores ({machine.get('cpu', '?')}), "
            f"Python {machine.get('python', '?')}; each figure beside a baseline run in the same process; "
            f"{targets_met(figures)}. Load average (1 min) before each part: {loads or 'not recorded'}.")
    for part, error in results.get("failed", {}).items():
        text += f" Part `{part}` failed: {error}."
    return text


def readme_section(results: dict[str, Any]) -> str:
    """What stands between the README's markers."""
    figures = [Figure.from_json(f) for f in results["figures"]]
    return f"{results_summary(results)}\n\n{markdown_table(figures)}"


def rewrite_readme(readme: str, results: dict[str, Any]) -> str:
    """``readme`` with the text between its figure markers written anew from ``results``."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no figure markers ({README_START!r} ... {README_END!r})")
    return f"{readme[:start + len(README_START)]}\n{readme_section(results)}\n{readme[end:]}"


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_figures",
                                     description="Write the README's Figures table from bench/results.json.")
    parser.add_argument("--readme", nargs="?", type=Path, const=root / "README.md", required=True,
                        help="the README to rewrite between its figure markers (default: the project's)")
    parser.add_argument("--results", type=Path, default=root / "bench" / "results.json")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        args.readme.write_text(rewrite_readme(args.readme.read_text(), results))
    except (OSError, ValueError, KeyError) as err:
        print(f"bench_figures: {err}")
        return 2
    print(f"wrote the figures of {results['date']} into {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
