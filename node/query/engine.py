"""Running a checked query in DuckDB over a dataset version and releasing its result.

A version is loaded once per content root (:mod:`node.query.tables`) and kept in a small LRU.
The SQL that runs is built here from the :class:`~node.query.policy.CheckedQuery`: per group the
true row count (for k) and each aggregate's exact value over values clamped to the grant's bounds
(``LEAST(GREATEST(x, lo), hi)``). The release is Python's: every group gets OpenDP noise
(:mod:`node.query.noise`) with ε split evenly among the measurements (an AVG is a noisy sum over
a noisy count: two), and a group is released only when its *noisy* row count reaches τ
(:func:`~node.query.noise.release_threshold`, at least k): the query's own ``COUNT(*)`` when it
has one, else a row count drawn for this alone with one more share of ε. A cut on the true count
would tell a group of k rows from one of k − 1 for certain, so one person's presence (or a value
of theirs, by differencing two WHEREs) would show; nor is the number of groups left out released.
ORDER BY and LIMIT apply to the noisy values, so even the order releases nothing exact.

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
from node.query.noise import noisy_counts, noisy_sums, release_threshold
from node.query.policy import Aggregate, CheckedQuery, QueryPolicy
from node.query.tables import LoadedVersion, execute, loaded
from node.store import PLAIN, DataStore


@dataclass(frozen=True)
class QueryResult:
    """A released result: what the consumer gets, and the hashes the chain records.
    ``result_json`` is the canonical JSON of the release; ``result_hash`` its keccak256."""

    columns: list[str]
    rows: list[list[object]]
    release_threshold: int
    """τ: the noisy row count a group reached to be released (k and ε set it, never the data)."""
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


def _noisy(checked: CheckedQuery, groups: list[tuple[Any, ...]], epsilon: list[int]) -> list[list[Any]]:
    """Each aggregate's noisy values, one per group, each measurement with its share of
    ``epsilon`` (micro-ε, in order)."""
    shares = iter(epsilon)
    released: list[list[Any]] = []
    at = len(checked.groups) + 1
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
    return released


def _shares(checked: CheckedQuery, epsilon: int) -> tuple[list[int], int | None]:
    """``epsilon`` split among the aggregates' measurements (an AVG's two), and the index of the
    share of the released ``COUNT(*)`` that decides which groups go out; when the query has none,
    one more share is split off, last, for a row count drawn for that alone (index None)."""
    sizes = [2 if a.kind == "avg" else 1 for a in checked.aggregates]
    counted = next((i for i, a in enumerate(checked.aggregates) if a.kind == "count"), None)
    shares = split(epsilon, sum(sizes) + (counted is None))
    return shares, None if counted is None else sum(sizes[:counted])


def _released(checked: CheckedQuery, groups: list[tuple[Any, ...]], epsilon: int,
              min_group_size: int) -> tuple[list[list[object]], int]:
    """The released rows in the query's output order (keys as they are, aggregates noisy), of
    the groups whose noisy row count reached τ, and τ."""
    shares, counted = _shares(checked, epsilon)
    noisy = _noisy(checked, groups, shares)
    if counted is not None:
        index = next(i for i, a in enumerate(checked.aggregates) if a.kind == "count")
        sizes, share = [int(n) for n in noisy[index]], shares[counted]
    else:
        share = shares[-1]
        sizes = noisy_counts([int(g[len(checked.groups)]) for g in groups], share)
    threshold = release_threshold(min_group_size, share)
    rows = [[group[o.group] if o.group is not None else noisy[o.aggregate or 0][i] for o in checked.outputs]
            for i, group in enumerate(groups) if sizes[i] >= threshold]
    return rows, threshold


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


def result_json(checked: CheckedQuery, rows: list[list[object]], threshold: int, epsilon: int) -> bytes:
    """The canonical JSON bytes of a release, as the consumer hashes them to compare with the chain."""
    body = {"columns": [o.name for o in checked.outputs], "rows": rows, "release_threshold": threshold,
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
    groups, scanned = exact_groups(checked, source, kind=kind, encoding=encoding, content_root=content_root,
                                   store=store)
    released, threshold = _released(checked, groups, epsilon, policy.min_group_size)
    rows = _ordered(checked, released)
    body = result_json(checked, rows, threshold, epsilon)
    return QueryResult(columns=[o.name for o in checked.outputs], rows=rows, release_threshold=threshold,
                       rows_scanned=scanned, epsilon=epsilon, normalised_sql=checked.normalised_sql,
                       query_hash=checked.query_hash, result_json=body, result_hash=keccak(body))
