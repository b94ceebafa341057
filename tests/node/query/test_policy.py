"""The query check: what a query grant accepts, and each refusal naming its construct."""

from __future__ import annotations

import re

import pytest
from eth_utils.crypto import keccak

from node.errors import InvalidInput, QueryRefused
from node.query import QueryPolicy, check_query, normalised_sql, parse_bounds
from tests.utils.civil import BOUNDS, CLASSES

POLICY = QueryPolicy(fields=[], classes=CLASSES, bounds=BOUNDS, min_group_size=10)
GRANTED = QueryPolicy(fields=["区县", "年龄", "补助类型"], classes=CLASSES, bounds=BOUNDS, min_group_size=10)


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM data",
    "select 区县, count(*) from data group by 区县",
    "SELECT 区县, 补助类型, COUNT(*) AS n, AVG(年龄) AS a, SUM(补助金额) FROM data GROUP BY 区县, 补助类型 ORDER BY n DESC LIMIT 3",
    "SELECT COUNT(补助类型) FROM data WHERE 年龄 BETWEEN 60 AND 120 AND 区县 IN ('朝阳区', '海淀区')",
    "SELECT COUNT(*) FROM data WHERE NOT (年龄 < 18 OR 补助类型 LIKE '%救助') AND 区县 IS NOT NULL",
    "SELECT COUNT(*) FROM data AS d WHERE d.年龄 >= -1",
    "SELECT 区县, COUNT(*) FROM data GROUP BY 区县 ORDER BY 2 DESC, 区县 LIMIT 5 OFFSET 1",
    "SELECT 区县, COUNT(*) FROM data GROUP BY 区县 ORDER BY COUNT(*)",
    "SELECT COUNT(*) FROM data;",
])
def test_aggregates_over_plain_fields_are_accepted(sql: str) -> None:
    checked = check_query(sql, POLICY)
    assert checked.query_hash == keccak(checked.normalised_sql.encode())
    assert checked.aggregates
    # A refused query is recorded under the same normalisation: the same text, the same hash.
    assert normalised_sql(sql) == checked.normalised_sql


def test_the_normalised_sql_quotes_identifiers_and_drops_comments() -> None:
    checked = check_query("select 区县, count(*) /* how many */ from data -- all\n group by 区县", POLICY)
    assert checked.normalised_sql == 'SELECT "区县", COUNT(*) FROM "data" GROUP BY "区县"'
    assert check_query('SELECT "区县", COUNT(*) FROM "data" GROUP BY "区县"', POLICY).query_hash == checked.query_hash


@pytest.mark.parametrize(("sql", "normalised"), [
    ("select 身份证号 from data -- who\n", 'SELECT "身份证号" FROM "data"'),
    ("SELECT * FROM data JOIN other ON 1 = 1", 'SELECT * FROM "data" JOIN "other" ON 1 = 1'),
    ("DROP TABLE data", 'DROP TABLE "data"'),
    ("SELEC 区县 FROM data ((", None),
    ("SELECT 1; SELECT 2", None),
    ("", None),
    ("SELECT " + "(" * 40 + "1" + ")" * 40, None),
])
def test_a_refused_query_is_normalised_when_it_reads_as_one_statement(sql: str, normalised: str | None) -> None:
    assert normalised_sql(sql) == normalised
    with pytest.raises(QueryRefused):
        check_query(sql, POLICY)


def test_the_parts_the_engine_runs() -> None:
    checked = check_query("SELECT 区县, AVG(年龄) AS a, COUNT(*) FROM data WHERE 年龄 > 60 GROUP BY 区县 "
                          "ORDER BY a DESC LIMIT 2", POLICY)
    assert checked.groups == ("区县",)
    assert [(a.kind, a.field, a.bounds) for a in checked.aggregates] == [("avg", "年龄", (0.0, 120.0)),
                                                                         ("count", None, None)]
    assert [o.name for o in checked.outputs] == ["区县", "a", "COUNT(*)"]
    assert checked.where is not None and checked.where.sql(dialect="duckdb") == '"年龄" > 60'
    assert (checked.order[0].column, checked.order[0].desc, checked.limit) == (1, True, 2)
    assert checked.fields == {"区县", "年龄"}


@pytest.mark.parametrize(("sql", "named"), [
    ("SELECT * FROM data", "SELECT *"),
    ("SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号", "field 身份证号"),
    ("SELECT COUNT(*) FROM data GROUP BY 身份证号", "field 身份证号 in GROUP BY"),
    ("SELECT COUNT(*) FROM data WHERE 身份证号 = '110105194912310021'", "field 身份证号 in WHERE"),
    ("SELECT COUNT(手机号) FROM data", "field 手机号 in COUNT"),
    ("SELECT 姓名 FROM data", "field 姓名"),
    ("SELECT COUNT(*) FROM data WHERE 住址 LIKE '%建国路%'", "field 住址 in WHERE"),
    ("SELECT 区县 FROM data", "field 区县 in SELECT"),
    ("SELECT 区县, COUNT(*) FROM data", "field 区县 in SELECT"),
    ("SELECT 区县 FROM data GROUP BY 区县", "a query without an aggregate"),
    ("SELECT MAX(年龄) FROM data", "MAX"),
    ("SELECT MIN(补助金额) FROM data", "MIN"),
    ("SELECT SUM(补助类型) FROM data", "SUM(补助类型)"),
    ("SELECT AVG(编号) FROM data", "AVG(编号)"),
    ("SELECT COUNT(DISTINCT 区县) FROM data", "DISTINCT"),
    ("SELECT DISTINCT 区县 FROM data", "DISTINCT"),
    ("SELECT 区县, COUNT(*) FROM data GROUP BY 区县 HAVING COUNT(*) > 3", "HAVING"),
    ("SELECT 区县, COUNT(*) FROM data GROUP BY 区县 ORDER BY 年龄", "ORDER BY"),
    ("SELECT COUNT(*) FROM data LIMIT 5 + 1", "LIMIT"),
    ("SELECT COUNT(*) FROM other", "table"),
    ("SELECT COUNT(*) FROM main.data", "table"),
    ("SELECT 1", "a query without FROM data"),
    ("SELECT COUNT(*) FROM data WHERE upper(区县) = 'X'", "function UPPER"),
    ("SELECT SUM(年龄 * 2) FROM data", "in SUM"),
    ("SELECT COUNT(*), COUNT(*) FROM data", "named twice"),
    ("DELETE FROM data", "only one SELECT"),
    ("", "an empty query"),
    ("SELEC COUNT(*) FROM data", "the query"),
])
def test_refusals_name_the_construct(sql: str, named: str) -> None:
    with pytest.raises(QueryRefused, match=re.escape(named)) as refused:
        check_query(sql, POLICY)
    assert isinstance(refused.value, InvalidInput) and refused.value.field == "sql"


def test_fields_outside_the_grant_are_refused() -> None:
    check_query("SELECT 区县, AVG(年龄) FROM data GROUP BY 区县", GRANTED)
    with pytest.raises(QueryRefused, match="field 补助金额 in SUM: the grant does not cover it") as refused:
        check_query("SELECT SUM(补助金额) FROM data", GRANTED)
    assert refused.value.column == "补助金额"
    with pytest.raises(QueryRefused, match="field 编号 in WHERE"):
        check_query("SELECT COUNT(*) FROM data WHERE 编号 = 'MZ0000001'", GRANTED)


def test_bounds_are_read_from_their_json_text() -> None:
    assert parse_bounds('{"年龄": [0, 120], " 补助金额": [0.5, 5000]}') == {"年龄": (0.0, 120.0), "补助金额": (0.5, 5000.0)}
    assert parse_bounds("") == {}
    for text, named in [("[1, 2]", "JSON object"), ('{"年龄": [5, 1]}', "年龄"), ('{"年龄": [0, "x"]}', "年龄"),
                        ('{"年龄": [0, 1, 2]}', "年龄"), ('{"年龄": [true, 1]}', "年龄"), ("{", "not JSON")]:
        with pytest.raises(InvalidInput, match=named):
            parse_bounds(text)
