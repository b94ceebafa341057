"""Bench part ``query``: privacy-checked aggregate queries beside DuckDB running the same SQL bare.

A generated civil-affairs roll (``tests.utils.civil``, Chinese fields, valid ID numbers) of
``rows`` rows is written as CSV and loaded once (the load is timed and reported, beside loading the
same rows written as JSON lines, which stream through Python's parser). Then each query
of :data:`QUERIES` is run ``repeats`` times both ways, alternating, in this process on the same
loaded table: :func:`node.query.check_query` + :func:`node.query.run` (parse and check, the exact
groups in DuckDB, k-suppression, OpenDP noise, canonical JSON and its keccak), and the bare engine
running the caller's SQL with ``data`` renamed to the loaded table. Target: within 2x of the bare
engine (queries/s at least half of it).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import sqlglot
from sqlglot import exp

from node.query import QueryPolicy, check_query, run
from node.query.tables import execute, loaded
from scripts.bench_figures import Figure
from tests.utils.civil import BOUNDS, CLASSES, civil_rows, write_table

QUERIES = (
    "SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县 ORDER BY n DESC",
    "SELECT 区县, 补助类型, COUNT(*), AVG(年龄), SUM(补助金额) FROM data WHERE 年龄 >= 60 GROUP BY 区县, 补助类型",
    "SELECT 补助类型, AVG(补助金额) FROM data WHERE 区县 IN ('朝阳区', '海淀区') AND 年龄 BETWEEN 18 AND 59 "
    "GROUP BY 补助类型",
    "SELECT COUNT(*), SUM(补助金额) FROM data WHERE 补助类型 LIKE '%救助'",
)
POLICY = QueryPolicy(fields=[], classes=CLASSES, bounds=BOUNDS, min_group_size=10)
EPSILON = 1_000_000


def _bare(sql: str, table: str) -> str:
    """The caller's SQL as DuckDB would run it on the loaded table: ``data`` renamed, nothing else."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in tree.find_all(exp.Table):
        node.set("this", exp.to_identifier(table, quoted=True))
    return tree.sql(dialect="duckdb")


def bench_query(rows: int, repeats: int) -> list[Figure]:
    """Queries/s checked and released against the bare engine, on a ``rows``-row roll."""
    with tempfile.TemporaryDirectory(prefix="provledger-bench-query-") as tmp:
        roll = civil_rows(rows)
        source = write_table(Path(tmp) / "roll.csv", roll, kind="csv")
        lines = write_table(Path(tmp) / "roll.jsonl", roll, kind="jsonl")
        del roll
        started = time.perf_counter()
        with loaded(lines, kind="jsonl", encoding="utf-8", content_root=f"bench-jsonl-{rows}"):
            load_lines = time.perf_counter() - started
        root = f"bench-{rows}"
        started = time.perf_counter()
        with loaded(source, kind="csv", encoding="utf-8", content_root=root) as version:
            load = time.perf_counter() - started
            ours = bare = 0.0
            for _ in range(repeats):
                for sql in QUERIES:
                    started = time.perf_counter()
                    run(check_query(sql, POLICY), source, kind="csv", encoding="utf-8", content_root=root,
                        epsilon=EPSILON, policy=POLICY)
                    ours += time.perf_counter() - started
                    started = time.perf_counter()
                    execute(_bare(sql, version.table))
                    bare += time.perf_counter() - started
    count = repeats * len(QUERIES)
    raw = {"rows": rows, "queries": count, "ours_s": ours, "bare_s": bare, "load_s": load, "load_jsonl_s": load_lines}
    return [
        Figure(f"aggregate queries over {rows:,} rows (4 shapes), checked + run + k + OpenDP noise + hashed, "
               "queries/s", count / ours, "queries/s", count / bare, "DuckDB running the same SQL bare, same table",
               ">= 50%", raw=raw),
        Figure(f"loading those {rows:,} rows (CSV) into DuckDB for queries, once per version", load, "s", None, "",
               "", raw=raw),
        Figure(f"loading those {rows:,} rows written as JSON lines, streamed", load_lines, "s", load,
               "loading them as CSV, same process", "", raw=raw),
    ]
