"""Queries run over a real 10,000-row civil-affairs table, GBK CSV and UTF-8 JSON lines: released
counts near the true ones, small groups suppressed at k, sums clamped, noise of the stated scale."""

from __future__ import annotations

import json
import statistics
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from node.errors import InvalidInput, QueryRefused
from node.formats import Kind
from node.query import QueryPolicy, check_query, run
from node.query.engine import exact_groups
from node.query.noise import count_scale, noisy_counts
from tests.utils.civil import BOUNDS, CLASSES, SMALL_DISTRICT, civil_rows, write_table

ROWS = civil_rows(10_000)
POLICY = QueryPolicy(fields=[], classes=CLASSES, bounds=BOUNDS, min_group_size=10)
EPSILON = 1_000_000
Sources = dict[str, tuple[Path, Kind, str]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    folder = tmp_path_factory.mktemp("civil")
    return {"gbk-csv": (write_table(folder / "roll.csv", ROWS, kind="csv", encoding="gbk"), "csv", "gbk"),
            "utf8-jsonl": (write_table(folder / "roll.jsonl", ROWS, kind="jsonl"), "jsonl", "utf-8")}


def _run(sql: str, source: tuple[Path, Kind, str], epsilon: int = EPSILON, policy: QueryPolicy = POLICY) -> dict[str, Any]:
    path, kind, encoding = source
    result = run(check_query(sql, policy), path, kind=kind, encoding=encoding, content_root=f"root-{kind}",
                 epsilon=epsilon, policy=policy)
    assert result.result_hash == keccak(result.result_json) and result.rows_scanned == len(ROWS)
    released: dict[str, Any] = json.loads(result.result_json)
    assert released["rows"] == result.rows and released["query"] == result.normalised_sql
    return released


@pytest.mark.parametrize("name", ["gbk-csv", "utf8-jsonl"])
def test_grouped_counts_are_near_the_true_ones_and_the_small_district_is_suppressed(sources: Sources, name: str) -> None:
    truth = Counter(row[5] for row in ROWS)
    released = _run("SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县 ORDER BY n DESC", sources[name])
    counts = dict(map(tuple, released["rows"]))
    assert set(counts) == set(truth) - {SMALL_DISTRICT[0]} and released["release_threshold"] == 15
    # discrete Laplace of scale 1 (ε = 1, one count): |noise| > 40 has probability below 1e-17
    assert all(abs(counts[d] - truth[d]) <= 40 for d in counts)
    assert [row[1] for row in released["rows"]] == sorted(counts.values(), reverse=True)
    assert released["columns"] == ["区县", "n"] and released["epsilon"] == "1"


@pytest.mark.parametrize("name", ["gbk-csv", "utf8-jsonl"])
def test_a_where_leaving_fewer_than_k_rows_releases_nothing(sources: Sources, name: str) -> None:
    few = sum(1 for row in ROWS if row[5] == SMALL_DISTRICT[0])
    assert 0 < few < POLICY.min_group_size
    released = _run(f"SELECT COUNT(*) FROM data WHERE 区县 = '{SMALL_DISTRICT[0]}'", sources[name])
    assert released["rows"] == []
    grouped = _run(f"SELECT 补助类型, COUNT(*) FROM data WHERE 区县 = '{SMALL_DISTRICT[0]}' GROUP BY 补助类型",
                   sources[name])
    assert grouped["rows"] == []


def test_sums_and_averages_are_clamped_to_the_grants_bounds(sources: Sources) -> None:
    tight = QueryPolicy(fields=[], classes=CLASSES, bounds={"年龄": (0, 50), "补助金额": (0, 1000)}, min_group_size=10)
    checked = check_query("SELECT SUM(补助金额), AVG(年龄) FROM data", tight)
    path, kind, encoding = sources["gbk-csv"]
    ((rows, total, avg_sum, avg_count),), _ = exact_groups(checked, path, kind=kind, encoding=encoding,
                                                               content_root="root-csv")
    assert total == pytest.approx(sum(min(float(row[8]), 1000.0) for row in ROWS))
    assert avg_sum == pytest.approx(sum(min(int(row[6]), 50) for row in ROWS)) and avg_count == rows == len(ROWS)
    released = _run("SELECT SUM(补助金额), AVG(年龄) FROM data", sources["gbk-csv"], policy=tight)
    ((noisy_total, noisy_avg),) = released["rows"]
    # Laplace of scale 1000 / 0.5 on the sum; the average stays within its bounds
    assert abs(noisy_total - total) < 2000 * 40 and 0 <= noisy_avg <= 50


def test_gbk_csv_and_utf8_json_lines_give_the_same_result(sources: Sources) -> None:
    checked = check_query("SELECT 区县, 补助类型, COUNT(*), AVG(年龄), SUM(补助金额) FROM data WHERE 年龄 >= 60 "
                          "OR 补助类型 LIKE '%救助' GROUP BY 区县, 补助类型", POLICY)
    found = []
    for path, kind, encoding in sources.values():
        groups, scanned = exact_groups(checked, path, kind=kind, encoding=encoding, content_root=f"root-{kind}")
        found.append((sorted(groups, key=lambda g: (str(g[0]), str(g[1]))), scanned))
    (gbk, gbk_rows), (utf8, utf8_rows) = found
    assert gbk_rows == utf8_rows == len(ROWS) and len(gbk) == len(utf8) > 10
    for a, b in zip(gbk, utf8, strict=True):
        assert a[:5] == b[:5] and a[5:] == pytest.approx(b[5:])


def test_queries_the_version_cannot_answer_are_refused(sources: Sources) -> None:
    unknown = QueryPolicy(fields=[], classes=CLASSES, bounds={**BOUNDS, "收入": (0, 9)}, min_group_size=10)
    with pytest.raises(QueryRefused, match="field 户籍: this version has no such field"):
        _run("SELECT COUNT(*) FROM data WHERE 户籍 = '北京'", sources["gbk-csv"])
    with pytest.raises(QueryRefused, match="no such field"):
        _run("SELECT SUM(收入) FROM data", sources["gbk-csv"], policy=unknown)
    with pytest.raises(QueryRefused, match="field rowid: this version has no such field"):
        _run("SELECT COUNT(*) FROM data WHERE rowid = 5", sources["utf8-jsonl"])
    with pytest.raises(QueryRefused, match=r"SUM\(补助类型\): the field is not numeric"):
        _run("SELECT SUM(补助类型) FROM data", sources["gbk-csv"], policy=QueryPolicy(
            fields=[], classes=CLASSES, bounds={"补助类型": (0, 1)}, min_group_size=10))
    with pytest.raises(QueryRefused, match="DuckDB could not run it") as refused:
        _run("SELECT COUNT(*) FROM data WHERE 年龄 = '六十'", sources["gbk-csv"])
    assert "六十" not in str(refused.value)
    with pytest.raises(InvalidInput, match="above zero"):
        _run("SELECT COUNT(*) FROM data", sources["gbk-csv"], epsilon=0)
    with pytest.raises(InvalidInput, match="at least one micro-ε"):
        _run("SELECT AVG(年龄), COUNT(*) FROM data", sources["gbk-csv"], epsilon=2)


def test_concurrent_queries_share_one_loaded_version(sources: Sources) -> None:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            results.append(_run("SELECT 补助类型, COUNT(*) FROM data GROUP BY 补助类型", sources["utf8-jsonl"]))
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=query) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 8
    assert all(sorted(r[0] for r in result["rows"]) == sorted({row[7] for row in ROWS}) for result in results)


@pytest.mark.parametrize("epsilon", [250_000, 500_000, 1_000_000])
def test_released_counts_have_the_noise_scale_epsilon_calls_for(epsilon: int) -> None:
    """Discrete Laplace of scale 1/ε: its variance is 2α/(1-α)², α = e^(-ε). 20,000 draws put the
    sample variance within 15% of it; a miss is more than nine standard errors away (p < 1e-15),
    so the test does not flake although OpenDP's noise takes no seed."""
    assert count_scale(epsilon) == pytest.approx(1_000_000 / epsilon)
    true = 1_000
    draws = noisy_counts([true] * 20_000, epsilon)
    alpha = 2.718281828459045 ** (-epsilon / 1_000_000)
    variance = 2 * alpha / (1 - alpha) ** 2
    assert statistics.fmean(draws) == pytest.approx(true, abs=8 * (variance / 20_000) ** 0.5 + 1e-9)
    assert statistics.pvariance(draws, mu=true) == pytest.approx(variance, rel=0.15)
