"""Departments by code and name, as ``provledger up`` and ``consortium up`` take them."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.local import counted_departments
from node.departments import DepartmentSpec, parse_department, plan_departments, read_departments_file

CIVIL, MARKET = DepartmentSpec("civil-affairs", "民政局"), DepartmentSpec("market-regulation", "市场监管局")


def plan(*given: DepartmentSpec, **options: object) -> list[tuple[str, str]]:
    found = plan_departments(given, default_codes=counted_departments, **options)  # type: ignore[arg-type]
    return [(d.code, d.name) for d in found.departments] + [("coordinator", found.coordinator)]


def test_a_department_is_code_equals_name_in_any_script() -> None:
    assert parse_department("civil-affairs=民政局") == CIVIL
    assert parse_department(" big-data = 大数据局 ") == DepartmentSpec("big-data", "大数据局")
    assert parse_department("dept-7=Bureau = of things") == DepartmentSpec("dept-7", "Bureau = of things")


@pytest.mark.parametrize(("value", "says"), [
    ("民政局", "not CODE=NAME"), ("Civil-Affairs=民政局", "a-z, 0-9 and '-'"), ("civil affairs=民政局", "a-z"),
    ("-civil=民政局", "starting with a letter"), ("x" * 32 + "=民政局", "1 to 31"), ("=民政局", "1 to 31"),
    ("civil-affairs=", "1 to 64 characters, not 0"), ("civil-affairs=" + "局" * 65, "not 65"),
    ("civil-affairs=民政\x07局", "control character"),
])
def test_a_bad_code_or_name_is_refused_naming_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_department(value)


def test_the_first_is_the_coordinator_unless_one_is_named() -> None:
    assert plan(CIVIL, MARKET) == [("civil-affairs", "民政局"), ("market-regulation", "市场监管局"),
                                   ("coordinator", "civil-affairs")]
    assert plan(CIVIL, MARKET, coordinator="market-regulation")[-1] == ("coordinator", "market-regulation")
    with pytest.raises(ValueError, match="--coordinator big-data is none of the departments"):
        plan(CIVIL, MARKET, coordinator="big-data")


def test_counted_departments_keep_working_and_do_not_mix_with_named_ones() -> None:
    assert [code for code, _ in plan(count=4)[:-1]] == ["stats-bureau", "health-commission", "public-security",
                                                        "department-4"]
    assert plan()[-1] == ("coordinator", "stats-bureau")
    with pytest.raises(ValueError, match="--departments N makes unnamed departments"):
        plan(CIVIL, count=2)
    with pytest.raises(ValueError, match="given twice"):
        plan(CIVIL, DepartmentSpec("civil-affairs", "另一个"))
    with pytest.raises(ValueError, match="1 to 16, not 17"):
        plan(count=17)


def test_a_toml_or_json_file_names_departments_in_order_and_the_coordinator(tmp_path: Path) -> None:
    toml = tmp_path / "departments.toml"
    toml.write_text('coordinator = "big-data"\n[departments]\ncivil-affairs = "民政局"\nbig-data = "大数据局"\n'
                    'market-regulation = "市场监管局"\n', encoding="utf-8")
    assert plan(file=toml) == [("civil-affairs", "民政局"), ("big-data", "大数据局"), ("market-regulation", "市场监管局"),
                               ("coordinator", "big-data")]
    assert plan(file=toml, coordinator="civil-affairs")[-1] == ("coordinator", "civil-affairs")
    js = tmp_path / "departments.json"
    js.write_text('{"departments": {"market-regulation": "市场监管局", "civil-affairs": "民政局"}}', encoding="utf-8")
    assert read_departments_file(js) == ([MARKET, CIVIL], None)
    with pytest.raises(ValueError, match="not both"):
        plan(CIVIL, file=js)


@pytest.mark.parametrize(("name", "text", "says"), [
    ("a.toml", "[departments\n", "is not TOML"), ("a.json", "{", "is not JSON"),
    ("a.toml", "[departments]\n", "at least one"), ("a.json", '{"departments": {"Civil": "民政局"}}', "'Civil'"),
    ("a.json", '{"departments": {"civil": 7}}', "the name of civil must be text"),
    ("a.toml", 'leader = "x"\n[departments]\ncivil = "民政局"\n', "unknown key leader"),
])
def test_a_bad_departments_file_is_refused_naming_what_is_wrong(tmp_path: Path, name: str, text: str,
                                                                says: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=says):
        read_departments_file(path)
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[departments]\ncivil = "民政局"\n'.encode("gbk"))
    with pytest.raises(ValueError, match="not UTF-8"):
        read_departments_file(gbk)
