"""A consumer with a query grant tries to learn one person's data from aggregates.

The consumer knows its target: 张三, the only 33-year-old in 东城区, and wants to know whether
张三 draws 低保. It asks for the count of 东城区's 低保 recipients aged 33 to 40 on a roll where,
with 张三 among them, that count is exactly k (and k − 1 without). Had the node cut groups on
their true count (released at k, withheld at k − 1), the answer's presence alone would tell, every
time; and a count of the groups left out would tell whether a group of one person exists. Here
the engine runs for real (DuckDB, OpenDP) over the two rolls that differ in 张三 alone, many times
each, and the attacker's best guess from what it is given is barely better than a coin's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from node.fields import FieldClass
from node.query import QueryPolicy, check_query, run

K = 14
POLICY = QueryPolicy(fields=[], classes={"姓名": FieldClass.NAME, "身份证号": FieldClass.ID_NUMBER},
                     bounds={"年龄": (0.0, 120.0)}, min_group_size=K)
PROBE = "SELECT COUNT(*) AS n FROM data WHERE 区县 = '东城区' AND 补助类型 = '低保' AND 年龄 >= 33 AND 年龄 <= 40"
TRIES = 500
"""Queries on each roll: the attacker's accuracy is measured within about ±0.03."""


def _roll(folder: Path, name: str, *, target_draws: bool, lone_group: bool = False) -> Path:
    """东城区: 13 others drawing 低保 aged 34 to 40, 20 drawing 特困, and 张三 (33), drawing 低保 or
    not; 西城区: 30 people. With ``lone_group``, one more person, alone in 门头沟区."""
    rows = [("姓名", "身份证号", "区县", "年龄", "补助类型"),
            ("张三", "110101199301010000", "东城区", "33", "低保" if target_draws else "特困")]
    rows += [(f"李{i}", f"1101011985010{i:05d}", "东城区", str(34 + i % 7), "低保") for i in range(K - 1)]
    rows += [(f"王{i}", f"1101011975020{i:05d}", "东城区", str(50 + i % 20), "特困") for i in range(20)]
    rows += [(f"赵{i}", f"1101021980030{i:05d}", "西城区", str(20 + i), "低保") for i in range(30)]
    if lone_group:
        rows.append(("孙一", "110109196604040000", "门头沟区", "58", "低保"))
    path = folder / f"{name}.csv"
    path.write_text("".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _answers(path: Path, sql: str, root: str, times: int) -> list[dict[str, object]]:
    checked = check_query(sql, POLICY)
    return [json.loads(run(checked, path, kind="csv", encoding="utf-8", content_root=root, epsilon=1_000_000,
                           policy=POLICY).result_json) for _ in range(times)]


def _outcome(answer: dict[str, object]) -> str:
    """What the attacker sees of an answer, noise included, hashes aside."""
    return json.dumps({key: value for key, value in answer.items() if key != "query"}, sort_keys=True)


def _best_guess_accuracy(with_target: list[str], without: list[str]) -> float:
    """How often the best guess from an answer (which roll gave it) is right, both rolls equally
    likely: (1 + total variation distance) / 2 over the answers seen."""
    seen_with, seen_without = Counter(with_target), Counter(without)
    distance = sum(abs(seen_with[o] / len(with_target) - seen_without[o] / len(without))
                   for o in seen_with.keys() | seen_without.keys()) / 2
    return (1 + distance) / 2


def test_the_answer_to_a_group_of_exactly_k_hardly_tells_whether_the_target_is_in_it(tmp_path: Path) -> None:
    draws = _answers(_roll(tmp_path, "draws", target_draws=True), PROBE, "diff-draws", TRIES)
    does_not = _answers(_roll(tmp_path, "does-not", target_draws=False), PROBE, "diff-does-not", TRIES)
    # Each roll's group is released sometimes and withheld sometimes: the cut is on a noisy count.
    assert 0 < sum(bool(a["rows"]) for a in draws) < TRIES and sum(bool(a["rows"]) for a in does_not) < TRIES
    accuracy = _best_guess_accuracy([_outcome(a) for a in draws], [_outcome(a) for a in does_not])
    # ε = 1 bounds any guess at e / (1 + e) ≈ 0.73; a cut on the true count would make it 1.0.
    assert accuracy < 0.73, accuracy


@pytest.mark.parametrize("grouped", [True, False])
def test_nothing_in_an_answer_tells_a_group_of_one_person_exists(tmp_path: Path, grouped: bool) -> None:
    sql = ("SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县" if grouped
           else "SELECT COUNT(*) AS n FROM data WHERE 区县 = '门头沟区'")
    alone = _answers(_roll(tmp_path, "alone", target_draws=True, lone_group=True), sql, "diff-alone", 100)
    absent = _answers(_roll(tmp_path, "absent", target_draws=True), sql, "diff-absent", 100)
    for answer in alone + absent:
        rows = answer["rows"]
        assert answer["release_threshold"] == 15 and isinstance(rows, list)
        # 门头沟区's one person never shows: neither as a group nor as a count of groups left out.
        assert {row[0] for row in rows} <= {"东城区", "西城区"} if grouped else rows == []
    assert {tuple(sorted(a)) for a in alone} == {tuple(sorted(a)) for a in absent}
