"""The bench's figures judged against their targets, and the README's table written from a
results file: one row per figure, in order, with its ratio and whether its target was met, and
nothing outside the markers touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.bench_figures import README_END, README_START, Bound, Figure, main, rewrite_readme

README = f"""# project

Some text before.

## Figures

Prose the lead writes about the run.

{README_START}
| old | table |
{README_END}

## After

Text after.
"""


def results() -> dict[str, Any]:
    figures = [
        Figure("uses per second", 6_000.0, "uses/s", 40.0, "one transaction per use", ">= 5,000"),
        Figure("indexer catching up", 900.0, "events/s", 37_000.0, "eth_getLogs as raw JSON", ">= 15,000 events/s"),
        Figure("trace page, p95", 7.0, "ms", 3_500.0, "eth_getLogs scan", "<= 50 ms, >= 50x faster", speedup=True),
        Figure("idle CPU", 2.5, "% of a core", 20.0, "fixed polls", "<= 3% of one core", goal=(Bound("<=", 3.0),)),
        Figure("API trace reads", 32.0, "req/s", 137.0, "GET /auth/me", "reported"),
    ]
    written = [f.to_json() for f in figures]
    # A figure from a results file written before goals were stored: its goal is read from its words.
    old = {k: v for k, v in Figure("anchoring", 2.2, "s", 2.6, "hashlib alone", "<= 2x").to_json().items()
           if k not in ("goal", "met")}
    return {
        "date": "2026-12-07T12:00:00+00:00",
        "machine": {"cores": 2, "cpu": "AMD EPYC", "python": "3.11.7"},
        "load_average": {"uses": {"before": [1.5, 1.2, 1.0]}, "idle": {"before": [0.25, 0.5, 0.75]}},
        "failed": {"consortium": "ChainStartFailed: no geth"},
        "figures": [*written, old],
    }


def table_rows(text: str) -> list[list[str]]:
    inside = text[text.index(README_START) + len(README_START):text.index(README_END)]
    rows = [line for line in inside.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_targets_are_read_from_their_words_and_judged() -> None:
    assert Bound.parse(">= 2,000") == (Bound(">=", 2000.0),)
    assert Bound.parse("<= 50 ms, >= 50x faster") == (Bound("<=", 50.0), Bound(">=", 50.0, "speedup"))
    assert Bound.parse("<= 2x") == (Bound("<=", 2.0, "ratio"),)
    assert Bound.parse(">= 80%") == (Bound(">=", 0.8, "ratio"),)
    assert Bound.parse("reported") == () and Bound.parse("") == ()
    assert Figure("x", 1_000, "MB/s", 1_200, "sha256sum", ">= 80%").met is True
    assert Figure("x", 900, "MB/s", 1_200, "sha256sum", ">= 80%").met is False
    assert Figure("x", 10, "ms", 400, "scan", "<= 50 ms, >= 50x faster", speedup=True).met is False
    assert Figure("x", 10, "ms", None, "", "<= 50 ms, >= 50x faster").met is None  # no baseline to judge by
    assert Figure("x", 10, "ms", 400, "scan", "reported").met is None


def test_a_figure_reads_back_from_the_results_file_as_it_was_written() -> None:
    figure = Figure("idle CPU", 3.5, "% of a core", 20.0, "fixed polls", "<= 3% of one core",
                    goal=(Bound("<=", 3.0),), raw={"seconds": 60})
    again = Figure.from_json(json.loads(json.dumps(figure.to_json())))
    assert again == figure and again.met is False


def test_the_readme_table_is_written_from_the_results_between_its_markers() -> None:
    written = rewrite_readme(README, results())
    assert written.startswith(README[:README.index(README_START)])
    assert written.endswith(README[README.index(README_END):])
    assert "| old | table |" not in written
    rows = table_rows(written)
    assert [(r[0], r[3], r[4], r[5]) for r in rows] == [
        ("uses per second", "150x", ">= 5,000", "met"),
        ("indexer catching up", "0.0243x", ">= 15,000 events/s", "missed"),
        ("trace page, p95", "500x faster", "<= 50 ms, >= 50x faster", "met"),
        ("idle CPU", "0.125x", "<= 3% of one core", "met"),
        ("API trace reads", "0.234x", "reported", "—"),
        ("anchoring", "0.846x", "<= 2x", "met"),
    ]
    assert rows[0][1:3] == ["6,000 uses/s", "40.0 uses/s, one transaction per use"]
    summary = written[written.index(README_START):].splitlines()[1]
    assert "2026-12-07 12:00 UTC" in summary and "2 cores (AMD EPYC)" in summary and "4 of 5 targets met" in summary
    assert "uses 1.50, idle 0.25" in summary and "`consortium` failed: ChainStartFailed: no geth" in summary
    assert rewrite_readme(written, results()) == written


def test_the_command_rewrites_a_readme_and_refuses_one_without_markers(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    readme, results_file = tmp_path / "README.md", tmp_path / "results.json"
    readme.write_text(README)
    results_file.write_text(json.dumps(results()))
    assert main(["--readme", str(readme), "--results", str(results_file)]) == 0
    assert table_rows(readme.read_text())[0][0] == "uses per second"
    readme.write_text("# no figures here\n")
    assert main(["--readme", str(readme), "--results", str(results_file)]) == 2
    assert "no figure markers" in capsys.readouterr().out
    assert readme.read_text() == "# no figures here\n"
