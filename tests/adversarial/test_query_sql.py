"""Hostile SQL against the query check: every way round "aggregates over granted plain fields"
that a consumer might try is refused before anything runs, naming what it found."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.errors import QueryRefused
from node.fields import FieldClass
from node.query import QueryPolicy, check_query
from tests.utils.civil import BOUNDS, CLASSES

POLICY = QueryPolicy(fields=[], classes={**CLASSES, "ID": FieldClass.ID_NUMBER}, bounds=BOUNDS, min_group_size=10)


@pytest.mark.parametrize(("sql", "named"), [
    # the identifying field however it is spelt
    ('SELECT COUNT(*) FROM data GROUP BY "身份证号"', "field 身份证号"),
    ('SELECT "身份证号" FROM data GROUP BY "身份证号"', "field 身份证号"),
    ("SELECT COUNT(*) FROM data WHERE data.身份证号 LIKE '110105%'", "field 身份证号"),
    ("SELECT COUNT(*) FROM data GROUP BY id", "field ID"),
    ('SELECT COUNT(*) FROM data WHERE "Id" = \'1\'', "field ID"),
    ("SELECT COUNT(*) FROM data WHERE 年龄 > 1 AND (区县 = 'x' OR NOT 手机号 IN (13800138000))", "field 手机号"),
    ("SELECT COUNT(*) FROM data WHERE 姓名 BETWEEN '张' AND '张龥'", "field 姓名"),
    ("SELECT COUNT(*) FROM data WHERE 身份证号 IS NULL", "field 身份证号"),
    # a second statement, visible or hidden by comments
    ("SELECT COUNT(*) FROM data; DROP TABLE data", "a second statement"),
    ("SELECT COUNT(*) FROM data -- harmless\n; SELECT 身份证号 FROM data", "a second statement"),
    ("SELECT COUNT(*) FROM data /* ; */ ; COPY data TO '/tmp/x.csv'", "a second statement"),
    ("ATTACH '/tmp/x.db'", "only one SELECT"),
    ("COPY data TO '/tmp/out.csv'", "only one SELECT"),
    ("PRAGMA database_list", "only one SELECT"),
    # other tables, files and functions
    ("SELECT COUNT(*) FROM read_csv('/etc/passwd')", "function READ_CSV"),
    ("SELECT COUNT(*) FROM read_csv_auto('/work/secret.csv')", "READ_CSV"),
    ("SELECT COUNT(*) FROM '/etc/passwd'", "table"),
    ("SELECT COUNT(*) FROM data, other", "a join"),
    ("SELECT COUNT(*) FROM data JOIN data AS b ON data.编号 = b.编号", "a join"),
    ("SELECT COUNT(*) FROM data WHERE 区县 IN (SELECT 区县 FROM data WHERE 身份证号 = '1')", "a subquery"),
    ("SELECT COUNT(*) FROM data WHERE EXISTS (SELECT 1 FROM data)", "subquery"),
    ("SELECT COUNT(*) FROM (SELECT * FROM data)", "a subquery"),
    ("WITH t AS (SELECT * FROM data) SELECT COUNT(*) FROM t", "WITH"),
    ("SELECT COUNT(*) FROM data UNION SELECT COUNT(*) FROM data", "UNION"),
    ("SELECT 区县, SUM(年龄) OVER (PARTITION BY 区县) FROM data GROUP BY 区县", "a window function"),
    ("SELECT COUNT(*) FILTER (WHERE 年龄 > 99) FROM data", "FILTER"),
    ("SELECT COUNT(*) FROM data WHERE getenv('HOME') = 'x'", "function"),
    ("SELECT COUNT(*) FROM data WHERE 年龄 = (SELECT MAX(年龄) FROM data)", "subquery"),
    ("SELECT COUNT(*) FROM data WHERE CAST(年龄 AS VARCHAR) = '1'", "CAST"),
    ("SELECT COUNT(*) FROM data TABLESAMPLE 1 ROWS", "TABLESAMPLE"),
    ("SELECT arg_max(身份证号, 年龄) FROM data", "function ARG_MAX"),
    ("SELECT arg_max(区县, 年龄) FROM data", "function"),
    ("SELECT list(区县) FROM data", "function"),
    ("SELECT string_agg(区县, ',') FROM data", "function"),
    ("SELECT COUNT(*) FROM data WHERE 年龄 = ?", "parameter"),
    ("SELECT COUNT(*) FROM data WHERE 区县", "a bare field"),
    ("SELECT COUNT(*) FROM data GROUP BY ALL", "GROUP BY"),
    ("SELECT COUNT(*) FROM data GROUP BY 1", "GROUP BY"),
    ("SELECT 区县, COUNT(*) FROM data GROUP BY ROLLUP (区县)", "GROUP BY"),
    ("SELECT COUNT(*) FROM data ORDER BY 身份证号", "ORDER BY"),
    ("SELECT COUNT(*) FROM data ORDER BY 年龄", "ORDER BY"),
    ("SELECT 年龄 FROM data GROUP BY 年龄 LIMIT (SELECT 1)", "a query without an aggregate"),
    ("SELECT COUNT(*) FROM data LIMIT (SELECT COUNT(*) FROM data)", "LIMIT"),
    ("SELECT COUNT(*) FROM data" + " " * 10_001, "characters"),
    ("SELECT COUNT(*) FROM data WHERE " + "(" * 400 + "年龄 = 1" + ")" * 400, "nests parentheses 400 deep"),
    ("SELECT COUNT(*) FROM data AS d(a, b) WHERE b = '张三'", "column aliases on the table"),
])
def test_hostile_queries_are_refused(sql: str, named: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check_query(sql, POLICY)
    assert named in str(refused.value)


def test_an_alias_spelling_a_forbidden_field_reads_no_field() -> None:
    """Naming an output after an identifying field is only a label: what runs reads 区县."""
    checked = check_query("SELECT 区县 AS 身份证号, COUNT(*) FROM data GROUP BY 区县", POLICY)
    assert checked.fields == {"区县"} and checked.outputs[0].name == "身份证号"


def test_nothing_of_the_callers_text_runs_but_the_checked_tree() -> None:
    """A comment cannot smuggle anything: the normalised SQL has none, and the WHERE kept is the parsed tree."""
    checked = check_query("SELECT COUNT(*) FROM data /*; DROP TABLE data*/ WHERE 年龄 > 1 -- ; ATTACH", POLICY)
    assert "DROP" not in checked.normalised_sql and "ATTACH" not in checked.normalised_sql
    assert checked.where is not None and checked.where.sql(dialect="duckdb") == '"年龄" > 1'


_IDENTIFYING = [name for name, cls in POLICY.classes.items() if cls is not FieldClass.PLAIN]
_SPELLINGS = st.sampled_from(_IDENTIFYING).flatmap(lambda name: st.sampled_from(
    [name, f'"{name}"', f"data.{name}", f'"data"."{name}"', name.lower(), name.swapcase(), f'" {name} "']))
_PLACES = [
    "SELECT {f}, COUNT(*) FROM data GROUP BY {f}",
    "SELECT COUNT(*) FROM data GROUP BY 区县, {f}",
    "SELECT COUNT(*) FROM data WHERE {f} = '1'",
    "SELECT COUNT(*) FROM data WHERE 年龄 > 1 AND NOT ({f} LIKE '1%' OR 区县 = 'x')",
    "SELECT COUNT(*) FROM data WHERE {f} IN ('1', '2')",
    "SELECT COUNT(*) FROM data WHERE {f} BETWEEN '1' AND '2'",
    "SELECT COUNT(*) FROM data WHERE {f} IS NOT NULL",
    "SELECT COUNT({f}) FROM data",
    "SELECT SUM({f}) FROM data",
    "SELECT 区县, AVG({f}) FROM data GROUP BY 区县",
]


@given(place=st.sampled_from(_PLACES), spelling=_SPELLINGS, upper=st.booleans())
def test_an_identifying_field_is_refused_wherever_and_however_it_is_written(place: str, spelling: str,
                                                                         upper: bool) -> None:
    sql = place.format(f=spelling)
    with pytest.raises(QueryRefused) as refused:
        check_query(sql.upper() if upper else sql, POLICY)
    assert refused.value.column is not None and refused.value.column.casefold() in {
        name.casefold() for name in _IDENTIFYING}
