"""Quality rules over real CSV and JSON lines files: each kind, each class's shape, unreadable
records, rule JSON, and the report's digest."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.errors import InvalidInput
from node.fields import FieldClass
from node.quality.rules import QualityReport, Rule, RuleKind, RuleResult, check_file

C = FieldClass
K = RuleKind
BEIJING = timezone(timedelta(hours=8))
NOW = int(datetime(2024, 6, 1, 12, tzinfo=BEIJING).timestamp())


# ---------------------------------------------------------------- naive references


def id_number(body: str) -> str:
    """``body`` (17 digits) completed with its GB 11643-1999 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def wrong_check(number: str) -> str:
    return number[:-1] + next(c for c in "0123456789X" if c != number[-1])


def luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        total += sum(int(d) for d in str(int(digit) * (2 if i % 2 else 1)))
    return total % 10 == 0


def with_luhn(partial: str) -> str:
    return next(partial + d for d in "0123456789" if luhn_ok(partial + d))


# ---------------------------------------------------------------- files


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: Sequence[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records))
    return path


def only(report: QualityReport) -> RuleResult:
    (result,) = report.results
    return result


def complete(name: str, threshold: float = 1.0) -> Rule:
    return Rule(K.COMPLETENESS, (name,), threshold)


def valid(name: str, threshold: float = 1.0) -> Rule:
    return Rule(K.VALIDITY, (name,), threshold)


# ---------------------------------------------------------------- completeness


@pytest.mark.parametrize(("threshold", "passed"), [(0.8, True), (0.81, False)])
def test_completeness_passes_when_the_share_just_meets_the_threshold(
    tmp_path: Path, threshold: float, passed: bool
) -> None:
    rows = [["Li", "x"], ["", "x"], ["Wang", ""], ["Zhao", "x"], ["", "x"]] + [["Sun", "x"]] * 5
    path = write_csv(tmp_path / "people.csv", ["name", "note"], rows)
    result = only(check_file(path, "csv", [complete("name", threshold)], {}))
    assert (result.passed, result.checked, result.failed, result.examples) == (passed, 10, 2, (2, 5))
    assert result.measure == 0.8
    assert result.detail == f"field name: 2 of 10 records lack a value (80% complete, {threshold * 100:g}% required)"


def test_completeness_shows_a_share_just_short_of_the_threshold_rounded_down(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [["x"]] * 99_999 + [[""]])
    result = only(check_file(path, "csv", [complete("a")], {}))
    assert not result.passed
    assert result.detail == "field a: 1 of 100000 records lack a value (99.99% complete, 100% required)"


def test_json_null_empty_string_and_missing_key_are_empty_but_whitespace_and_zero_are_not(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"a": None}, {"a": ""}, {"b": 1}, {"a": " "}, {"a": 0}, {"a": False}])
    result = only(check_file(path, "jsonl", [complete("a")], {}))
    assert (result.checked, result.failed, result.examples) == (6, 3, (1, 2, 3))


# ---------------------------------------------------------------- validity

GOOD_ID = id_number("11010519491231002")


def test_the_reference_check_character_matches_the_standards_examples() -> None:
    assert GOOD_ID == "11010519491231002X"
    assert id_number("44052418800101001") == "440524188001010014"


SHAPES = [
    (C.ID_NUMBER, GOOD_ID, True),
    (C.ID_NUMBER, GOOD_ID.lower(), True),
    (C.ID_NUMBER, "440524188001010014", True),
    (C.ID_NUMBER, id_number("11010119900307123"), True),
    (C.ID_NUMBER, "110105 19491231 002X", True),
    (C.ID_NUMBER, wrong_check(GOOD_ID), False),
    (C.ID_NUMBER, wrong_check(id_number("11010119900307123")), False),
    (C.ID_NUMBER, id_number("11010119900230123"), False),
    (C.ID_NUMBER, id_number("11010118000101123"), False),
    (C.ID_NUMBER, id_number("11010120240602123"), False),
    (C.ID_NUMBER, "110101900307123", True),
    (C.ID_NUMBER, "110101901307123", False),
    (C.ID_NUMBER, "11010119900307123", False),
    (C.ID_NUMBER, "１１０１０５１９４９１２３１００２X", False),
    (C.MOBILE, "13800138000", True),
    (C.MOBILE, "138-0013-8000", True),
    (C.MOBILE, "138 0013 8000", True),
    (C.MOBILE, "12800138000", False),
    (C.MOBILE, "1380013800", False),
    (C.MOBILE, "+8613800138000", False),
    (C.BANK_CARD, "4111111111111111", True),
    (C.BANK_CARD, "4111 1111 1111 1111", True),
    (C.BANK_CARD, "4111111111111112", False),
    (C.BANK_CARD, with_luhn("411111111111"), True),
    (C.BANK_CARD, with_luhn("41111111111"), False),
    (C.BANK_CARD, with_luhn("4" * 19), False),
    (C.EMAIL, "lilei@example.com", True),
    (C.EMAIL, "张三@例子.中国", True),
    (C.EMAIL, "lilei@localhost", False),
    (C.EMAIL, "li lei@example.com", False),
    (C.EMAIL, "a@@b.com", False),
    (C.EMAIL, "@example.com", False),
    (C.NAME, "张三", True),
    (C.NAME, "  Li Lei ", True),
    (C.NAME, "   ", False),
    (C.NAME, "Li Lei 2", False),
    (C.NAME, "x" * 64, True),
    (C.NAME, "x" * 65, False),
    (C.ADDRESS, "海淀区中关村", True),
    (C.ADDRESS, " 朝阳区 ", False),
    (C.ADDRESS, "1 Rd", True),
    (C.PLAIN, "anything", True),
]


@pytest.mark.parametrize(("cls", "value", "ok"), SHAPES)
def test_validity_knows_the_shape_of_each_class(tmp_path: Path, cls: FieldClass, value: str, ok: bool) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [[value]])
    result = only(check_file(path, "csv", [valid("a")], {"a": cls}, now=NOW))
    assert (result.checked, result.failed, result.passed) == (1, 0 if ok else 1, ok)


def test_an_id_number_is_born_by_the_date_in_beijing_when_now_is_given(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id"], [[id_number("11010120240602123")]])
    evening_utc = int(datetime(2024, 6, 1, 20, tzinfo=timezone.utc).timestamp())
    assert check_file(path, "csv", [valid("id")], {"id": C.ID_NUMBER}, now=evening_utc).passed
    assert not check_file(path, "csv", [valid("id")], {"id": C.ID_NUMBER}, now=NOW).passed
    assert check_file(path, "csv", [valid("id")], {"id": C.ID_NUMBER}).passed


@pytest.mark.parametrize(("threshold", "passed"), [(0.75, True), (0.76, False)])
def test_validity_counts_only_non_empty_values(tmp_path: Path, threshold: float, passed: bool) -> None:
    rows = [["13800138000"], [""], ["12800138000"], ["139-0013-8000"], [""], ["13700138000"]]
    path = write_csv(tmp_path / "a.csv", ["phone"], rows)
    result = only(check_file(path, "csv", [valid("phone", threshold)], {"phone": C.MOBILE}))
    assert (result.passed, result.checked, result.failed, result.measure, result.examples) == (
        passed, 4, 1, 0.75, (3,)
    )
    assert result.detail == (
        f"field phone: 1 of 4 non-empty values are not a mobile number (75% valid, {threshold * 100:g}% required)"
    )


def test_json_numbers_are_judged_as_text_and_nested_values_never_fit_a_class(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        {"phone": 13800138000, "note": {"x": 1}}, {"phone": {"n": "13800138000"}, "note": [1]},
        {"phone": ["13800138000"]}, {"phone": True}, {"phone": 1.38e10},
    ])
    report = check_file(path, "jsonl", [valid("phone"), valid("note")], {"phone": C.MOBILE, "note": C.PLAIN})
    phone, note = report.results
    assert (phone.checked, phone.failed, phone.examples) == (5, 4, (2, 3, 4, 5))
    assert (note.checked, note.failed, note.passed) == (2, 0, True)


def test_a_field_without_a_class_is_always_valid(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["phone"], [["not a phone"], ["12"]])
    result = only(check_file(path, "csv", [valid("phone")], {"other": C.MOBILE}))
    assert (result.passed, result.checked, result.failed) == (True, 2, 0)


@given(st.lists(st.text(alphabet="0123456789", min_size=12, max_size=18), min_size=1, max_size=20), st.data())
def test_luhn_valid_cards_pass_and_any_one_changed_digit_fails(
    tmp_path_factory: pytest.TempPathFactory, partials: list[str], data: st.DataObject
) -> None:
    cards = [with_luhn(p) for p in partials]
    changed = []
    for card in cards:
        i = data.draw(st.integers(0, len(card) - 1))
        digit = data.draw(st.sampled_from([d for d in "0123456789" if d != card[i]]))
        changed.append(card[:i] + digit + card[i + 1 :])
    path = write_csv(tmp_path_factory.mktemp("cards") / "a.csv", ["good", "bad"], list(zip(cards, changed)))
    classes = {"good": C.BANK_CARD, "bad": C.BANK_CARD}
    good, bad = check_file(path, "csv", [valid("good"), valid("bad")], classes).results
    assert (good.checked, good.failed) == (len(cards), 0)
    assert (bad.checked, bad.failed) == (len(cards), len(cards))


# ---------------------------------------------------------------- uniqueness


def test_uniqueness_reports_the_records_that_repeat_an_earlier_key(tmp_path: Path) -> None:
    rows = [["1", "a", "x"], ["1", "b", "x"], ["2", "a", "y"], ["1", "a", "z"], ["2", "a", "x"], ["1", "b", "w"]]
    path = write_csv(tmp_path / "a.csv", ["id", "day", "note"], rows)
    result = only(check_file(path, "csv", [Rule(K.UNIQUENESS, ("id", "day"))], {}))
    assert (result.passed, result.checked, result.failed, result.measure) == (False, 6, 3, 3.0)
    assert result.examples == (4, 5, 6)
    assert result.detail == "key (id, day): 3 of 6 records repeat an earlier key"
    assert only(check_file(path, "csv", [Rule(K.UNIQUENESS, ("id", "day", "note"))], {})).passed


def test_uniqueness_keys_are_unambiguous_and_empty_parts_still_count(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        {"a": "x,y", "b": "z"}, {"a": "x", "b": "y,z"}, {"a": 1, "b": ""}, {"a": "1"}, {"a": 1, "b": None},
        {"b": "q"}, {"a": None, "b": "q"},
    ])
    result = only(check_file(path, "jsonl", [Rule(K.UNIQUENESS, ("a", "b"))], {}))
    assert (result.checked, result.failed, result.examples) == (7, 2, (5, 7))


def test_uniqueness_over_two_hundred_thousand_records(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as out:
        out.write("id,value\n")
        for i in range(200_000):
            out.write(f"{i if i < 199_997 else i - 100_000},{i % 7}\n")
    result = only(check_file(path, "csv", [Rule(K.UNIQUENESS, ("id",))], {}))
    assert (result.checked, result.failed, result.examples) == (200_000, 3, (199_998, 199_999, 200_000))


# ---------------------------------------------------------------- timeliness


@pytest.mark.parametrize(("age", "passed"), [(3600, True), (3601, False)])
def test_timeliness_allows_at_most_the_maximum_age(tmp_path: Path, age: int, passed: bool) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [["x"]])
    rule = Rule(K.TIMELINESS, max_age_seconds=3600)
    result = only(check_file(path, "csv", [rule], {}, produced_at=NOW - age, now=NOW))
    assert (result.passed, result.checked, result.failed, result.measure, result.examples) == (
        passed, 1, 0 if passed else 1, float(age), ()
    )
    assert result.detail == f"the version was produced {age} s before the check (3600 s allowed)"


def test_timeliness_measures_against_the_clock_by_default(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [["x"]])
    rule = Rule(K.TIMELINESS, max_age_seconds=86_400)
    result = only(check_file(path, "csv", [rule], {}, produced_at=int(time.time()) - 10))
    assert result.passed
    assert result.measure >= 10


def test_timeliness_needs_the_production_time(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [["x"]])
    with pytest.raises(InvalidInput) as err:
        check_file(path, "csv", [Rule(K.TIMELINESS, max_age_seconds=60)], {}, now=NOW)
    assert err.value.field == "produced_at"


# ---------------------------------------------------------------- unreadable records and missing fields


def test_a_short_or_long_csv_row_fails_completeness_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,phone\n1,13800138000\n2\n\n3,13800138000,extra\n4,13900139000\n")
    rules = [complete("id"), valid("phone"), Rule(K.UNIQUENESS, ("phone",))]
    report = check_file(path, "csv", rules, {"phone": C.MOBILE})
    filled, shaped, unique = report.results
    assert report.records == 4
    assert (filled.checked, filled.failed, filled.examples) == (4, 2, (2, 3))
    assert (shaped.checked, shaped.failed) == (2, 0)
    assert (unique.checked, unique.failed) == (2, 0)


def test_a_malformed_json_line_fails_completeness_and_nothing_else(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": 1}, '{"id": 2', "", "[1, 2]", {"id": 1}, "1" * 5000])
    report = check_file(path, "jsonl", [complete("id"), Rule(K.UNIQUENESS, ("id",))], {})
    filled, unique = report.results
    assert report.records == 5
    assert (filled.checked, filled.failed, filled.examples) == (5, 3, (2, 3, 5))
    assert (unique.checked, unique.failed, unique.examples) == (2, 1, (4,))


def test_a_csv_header_with_a_byte_order_mark_and_spaces_still_names_its_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id ", " phone"], [["1", "13800138000"]], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = check_file(path, "csv", [complete("id"), valid("phone")], {"phone": C.MOBILE})
    assert report.passed
    assert [r.checked for r in report.results] == [1, 1]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_rule_on_a_field_not_in_the_data_fails_with_a_reason(tmp_path: Path, kind: str) -> None:
    path = write_csv(tmp_path / "a", ["id"], [["1"]]) if kind == "csv" else write_jsonl(tmp_path / "a", [{"id": 1}])
    rules = [complete("x"), valid("x"), Rule(K.UNIQUENESS, ("id", "x", "y"))]
    report = check_file(path, kind, rules, {"x": C.MOBILE})  # type: ignore[arg-type]
    assert not report.passed
    assert [(r.passed, r.checked, r.detail) for r in report.results] == [
        (False, 0, "field x is not in the data"),
        (False, 0, "field x is not in the data"),
        (False, 0, "field x and field y are not in the data"),
    ]


def test_a_check_with_no_rules_is_refused_rather_than_passed(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no quality rules"):
        check_file(write_jsonl(tmp_path / "a.jsonl", [{"a": 1}, "oops", {}]), "jsonl", [], {})


def test_completeness_and_validity_take_several_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["姓名", "手机号", "住址"],
                     [["张三", "13800138000", "北京市海淀区"], ["", "13800138000", "北京市海淀区"],
                      ["李四", "12345", ""], ["王五", "13900139000", "x"]])
    classes = {"姓名": FieldClass.NAME, "手机号": FieldClass.MOBILE, "住址": FieldClass.ADDRESS}
    complete, valid = check_file(path, "csv", [Rule(RuleKind.COMPLETENESS, ("姓名", "住址")),
                                               Rule(RuleKind.VALIDITY, ("手机号", "住址"))], classes).results
    assert (complete.checked, complete.failed, complete.examples) == (4, 2, (2, 3))
    assert complete.detail.startswith("fields 姓名, 住址: 2 of 4 records lack a value in one of them")
    # Each non-empty cell counts: 4 phones and 3 addresses; record 3's phone and record 4's address fail.
    assert (valid.checked, valid.failed, valid.examples) == (7, 2, (3, 4))
    assert valid.detail.startswith("fields 手机号, 住址: 2 of 7 non-empty values are not of their field's class")


def test_a_check_reads_the_version_in_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,手机号\n张三,13800138000\n李四,1\n".encode("gbk"))
    [result] = check_file(path, "csv", [Rule(RuleKind.VALIDITY, ("手机号",))], {"手机号": FieldClass.MOBILE},
                          encoding="gbk").results
    assert (result.checked, result.failed) == (2, 1)
    with pytest.raises(InvalidInput, match="not UTF-8 text"):
        check_file(path, "csv", [Rule(RuleKind.VALIDITY, ("手机号",))], {})


def test_an_empty_file_passes_shares_over_nothing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a"], [])
    report = check_file(path, "csv", [complete("a"), valid("a")], {"a": C.MOBILE})
    assert report.passed
    assert [r.measure for r in report.results] == [1.0, 1.0]


def test_text_that_is_not_utf8_or_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("name\n张三\n".encode("gbk"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        check_file(path, "csv", [complete("name")], {})
    with pytest.raises(InvalidInput) as err:
        check_file(path, "xml", [], {})  # type: ignore[arg-type]
    assert err.value.field == "kind"


# ---------------------------------------------------------------- rules as JSON


@pytest.mark.parametrize("rule", [
    complete("a", 0.5),
    valid("a"),
    Rule(K.UNIQUENESS, ("a", "b"), 0),
    Rule(K.TIMELINESS, max_age_seconds=0),
])
def test_a_rule_survives_its_json(rule: Rule) -> None:
    text = json.dumps(rule.to_json())
    assert Rule.from_json(json.loads(text)) == rule


def test_rule_json_fills_defaults_and_writes_thresholds_as_floats() -> None:
    rule = Rule.from_json({"kind": "completeness", "fields": ["a"]})
    assert rule == Rule(K.COMPLETENESS, ("a",), 1.0)
    assert Rule(K.COMPLETENESS, ("a",), 1).to_json() == {
        "kind": "completeness", "fields": ["a"], "threshold": 1.0, "max_age_seconds": None
    }


@pytest.mark.parametrize(("value", "field"), [
    ({"kind": "accuracy", "fields": ["a"]}, "kind"),
    ({"kind": ["completeness"], "fields": ["a"]}, "kind"),
    ({"fields": ["a"]}, "kind"),
    ({"kind": "completeness", "fields": ["a"], "colour": "red"}, "rule"),
    ({"kind": "completeness", "fields": "a"}, "fields"),
    ({"kind": "completeness", "fields": [1]}, "fields"),
    ({"kind": "completeness"}, "fields"),
    ({"kind": "validity", "fields": ["a", "a"]}, "fields"),
    ({"kind": "uniqueness", "fields": []}, "fields"),
    ({"kind": "uniqueness", "fields": ["a", "a"]}, "fields"),
    ({"kind": "uniqueness", "fields": [""]}, "fields"),
    ({"kind": "timeliness", "fields": ["a"], "max_age_seconds": 60}, "fields"),
    ({"kind": "completeness", "fields": ["a"], "threshold": 1.01}, "threshold"),
    ({"kind": "completeness", "fields": ["a"], "threshold": -0.1}, "threshold"),
    ({"kind": "completeness", "fields": ["a"], "threshold": float("nan")}, "threshold"),
    ({"kind": "completeness", "fields": ["a"], "threshold": "0.5"}, "threshold"),
    ({"kind": "completeness", "fields": ["a"], "threshold": True}, "threshold"),
    ({"kind": "timeliness"}, "max_age_seconds"),
    ({"kind": "timeliness", "max_age_seconds": -1}, "max_age_seconds"),
    ({"kind": "timeliness", "max_age_seconds": 1.5}, "max_age_seconds"),
    ({"kind": "validity", "fields": ["a"], "max_age_seconds": 60}, "max_age_seconds"),
])
def test_a_wrong_rule_is_refused_naming_what_is_wrong(value: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Rule.from_json(value)
    assert err.value.field == field


# ---------------------------------------------------------------- the report


def test_the_report_digest_is_deterministic_and_follows_every_cell(tmp_path: Path) -> None:
    rows = [["1", "13800138000", "Li"], ["2", "", "Wang"], ["3", "12800138000", "Zhao"]]
    rules = [complete("phone", 0.5), valid("phone"), Rule(K.UNIQUENESS, ("id",))]
    rules.append(Rule(K.TIMELINESS, max_age_seconds=60))
    classes = {"phone": C.MOBILE, "name": C.NAME}

    def digest(name: str, rows: list[list[str]]) -> str:
        path = write_csv(tmp_path / name, ["id", "phone", "name"], rows)
        return check_file(path, "csv", rules, classes, produced_at=NOW - 30, now=NOW).digest()

    first = digest("a.csv", rows)
    assert first == digest("b.csv", rows)
    assert first.startswith("0x") and len(first) == 66
    assert digest("c.csv", [rows[0], rows[1], ["3", "13800138000", "Zhao"]]) != first


def test_the_report_json_is_canonical_and_its_digest_is_its_hash(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id"], [["1"], ["1"]])
    report = check_file(path, "csv", [Rule(K.UNIQUENESS, ("id",))], {})
    text = json.dumps(report.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert report.digest() == "0x" + hashlib.sha256(text.encode()).hexdigest()
    assert json.loads(text) == {
        "records": 2,
        "passed": False,
        "results": [{
            "rule": {"kind": "uniqueness", "fields": ["id"], "threshold": 1.0, "max_age_seconds": None},
            "passed": False, "checked": 2, "failed": 1, "measure": 1.0, "examples": [2],
            "detail": "key (id): 1 of 2 records repeat an earlier key",
        }],
    }
