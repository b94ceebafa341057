"""Running a checked query in DuckDB over a dataset version and releasing its result.

A version is loaded once per content root (:mod:`node.query.tables`) and kept in a small LRU.
The SQL that runs is built here from the :class:`~node.query.policy.CheckedQuery`: per group the
true row count (for k) and each aggregate's exact value over values clamped to the grant's bounds
(``LEAST(GREATEST(x, lo), hi)``). The release is Python's: groups of fewer than k rows are
dropped (all of them when the ``WHERE`` leaves fewer than k rows), the rest get OpenDP noise
(:mod:`node.query.noise`) with ε split evenly among the released measurements (an AVG is a noisy
sum over a noisy count: two), and ORDER BY and LIMIT apply to the noisy values, so even the
order releases nothing exact.

``rows_scanned`` is the version's row count, not the rows the ``WHERE`` kept: it goes on chain
in clear, and a true count of matching rows would undo the noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from sqlglot import exp

from node.errors import InvalidInput, QueryRefused
from node.formats import Kind
from node.query.budget import epsilon_text, split
from node.query.noise import noisy_counts, noisy_sums
from node.query.policy import Aggregate, CheckedQuery, QueryPolicy
from node.query.tables import LoadedVersion, execute, loaded
from node.store import PLAIN, DataStore


@dataclass(frozen=True)
class QueryResult:
    """A released result: what the consumer gets, and the hashes the chain records.
    ``result_json`` is the canonical JSON of the release; ``result_hash`` its keccak256."""

    columns: list[str]
    rows: list[list[object]]
    suppressed_groups: int
    rows_scanned: int
    epsilon: int
    normalised_sql: str
    query_hash: bytes
    result_json: bytes
    result_hash: bytes


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _clamped(column: str, bounds: tuple[float, float]) -> str:
    return f"LEAST(GREATEST(CAST({_quoted(column)} AS DOUBLE), {float(bounds[0])!r}), {float(bounds[1])!r})"


def _measures(aggregate: Aggregate, column: str | None) -> list[str]:
    """The exact values an aggregate's release is computed from, as SQL."""
    if aggregate.kind == "count":
        return ["COUNT(*)"]
    assert column is not None
    if aggregate.kind == "count_field":
        return [f"COUNT({_quoted(column)})"]
    total = f"COALESCE(SUM({_clamped(column, aggregate.bounds or (0.0, 0.0))}), 0.0)"
    return [total] if aggregate.kind == "sum" else [total, f"COUNT({_quoted(column)})"]


def exact_sql(checked: CheckedQuery, version: LoadedVersion) -> str:
    """The SQL that computes, per group, its keys, its true row count and every exact measure."""
    columns = {name: version.column(name) for name in checked.fields}
    for aggregate in checked.aggregates:
        if aggregate.kind in ("sum", "avg") and not version.numeric(columns[aggregate.field or ""]):
            raise QueryRefused(f"{aggregate.kind.upper()}({aggregate.field})", "the field is not numeric in this "
                               "version", column=aggregate.field)
    keys = [_quoted(columns[name]) for name in checked.groups]
    measures = [sql for a in checked.aggregates for sql in _measures(a, columns.get(a.field or ""))]
    sql = f"SELECT {', '.join([*keys, 'COUNT(*)', *measures])} FROM {_quoted(version.table)}"
    if checked.where is not None:
        where = checked.where.transform(
            lambda node: exp.column(columns[node.name], quoted=True) if isinstance(node, exp.Column) else node)
        sql += f" WHERE {where.sql(dialect='duckdb', comments=False)}"
    return sql + (f" GROUP BY {', '.join(keys)}" if keys else "")


def _release(checked: CheckedQuery, groups: list[tuple[Any, ...]], epsilon: list[int]) -> list[list[object]]:
    """Each group's released values, in the query's output order: keys as they are, aggregates
    noisy, each measurement with its share of ``epsilon`` (micro-ε, in order)."""
    shares = iter(epsilon)
    width = len(checked.groups) + 1
    released: list[list[object]] = []
    at = width
    for aggregate in checked.aggregates:
        if aggregate.kind in ("count", "count_field"):
            released.append(list(noisy_counts([int(g[at]) for g in groups], next(shares))))
            at += 1
            continue
        bounds = aggregate.bounds or (0.0, 0.0)
        sums = noisy_sums([float(g[at]) for g in groups], next(shares), bounds)
        if aggregate.kind == "sum":
            released.append(list(sums))
            at += 1
            continue
        counts = noisy_counts([int(g[at + 1]) for g in groups], next(shares))
        released.append([min(max(s / max(c, 1), bounds[0]), bounds[1]) for s, c in zip(sums, counts, strict=True)])
        at += 2
    rows = []
    for i, group in enumerate(groups):
        rows.append([group[o.group] if o.group is not None else released[o.aggregate or 0][i]
                     for o in checked.outputs])
    return rows


def _ordered(checked: CheckedQuery, rows: list[list[Any]]) -> list[list[Any]]:
    """``rows`` sorted by the query's ORDER BY (stable, NULLs placed as asked), then cut to its
    OFFSET and LIMIT."""
    for order in reversed(checked.order):
        present = [row for row in rows if row[order.column] is not None]
        absent = [row for row in rows if row[order.column] is None]
        present.sort(key=lambda row: row[order.column], reverse=order.desc)
        rows = absent + present if order.nulls_first else present + absent
    end = None if checked.limit is None else checked.offset + checked.limit
    return rows[checked.offset:end]


def result_json(checked: CheckedQuery, rows: list[list[object]], suppressed: int, epsilon: int) -> bytes:
    """The canonical JSON bytes of a release, as the consumer hashes them to compare with the chain."""
    body = {"columns": [o.name for o in checked.outputs], "rows": rows, "suppressed_groups": suppressed,
            "epsilon": epsilon_text(epsilon), "query": checked.normalised_sql}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def exact_groups(checked: CheckedQuery, source: Path, *, kind: Kind, encoding: str,
                 content_root: str, store: DataStore = PLAIN) -> tuple[list[tuple[Any, ...]], int]:
    """Every group's keys, true row count and exact measures, before k and noise, and the
    version's row count. Never released: what :func:`run` releases is computed from it."""
    with loaded(source, kind=kind, encoding=encoding, content_root=content_root, store=store) as version:
        return execute(exact_sql(checked, version)), version.rows


def run(checked: CheckedQuery, source: Path, *, kind: Kind, encoding: str, content_root: str,
        epsilon: int, policy: QueryPolicy, store: DataStore = PLAIN) -> QueryResult:
    """``checked`` run over the version at ``source`` (``kind``, text in ``encoding``, already
    checked against ``content_root`` by the caller), released with ``epsilon`` micro-ε of noise
    under ``policy``'s k (its bounds were fixed into ``checked`` by the check)."""
    if epsilon <= 0:
        raise InvalidInput("epsilon", "must be above zero: no result is released without noise")
    if policy.min_group_size < 2:
        raise InvalidInput("min_group_size", f"k must be at least 2, not {policy.min_group_size}")
    shares = split(epsilon, sum(2 if a.kind == "avg" else 1 for a in checked.aggregates))
    groups, scanned = exact_groups(checked, source, kind=kind, encoding=encoding, content_root=content_root,
                                   store=store)
    k, count = policy.min_group_size, len(checked.groups)
    kept = [g for g in groups if int(g[count]) >= k] if sum(int(g[count]) for g in groups) >= k else []
    rows = _ordered(checked, _release(checked, kept, shares))
    body = result_json(checked, rows, len(groups) - len(kept), epsilon)
    return QueryResult(columns=[o.name for o in checked.outputs], rows=rows, suppressed_groups=len(groups) - len(kept),
                       rows_scanned=scanned, epsilon=epsilon, normalised_sql=checked.normalised_sql,
                       query_hash=checked.query_hash, result_json=body, result_hash=keccak(body))
