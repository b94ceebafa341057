"""Running a checked query in DuckDB and releasing its result (interface; the engine follows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.formats import Kind
from node.query.policy import CheckedQuery, QueryPolicy


@dataclass(frozen=True)
class QueryResult:
    """A released result: what the consumer gets, and the hashes the chain records."""

    columns: list[str]
    rows: list[list[object]]
    suppressed_groups: int
    rows_scanned: int
    epsilon: int
    normalised_sql: str
    query_hash: bytes
    result_json: bytes
    result_hash: bytes


def run(checked: CheckedQuery, source: Path, *, kind: Kind, encoding: str, content_root: str,
        epsilon: int, policy: QueryPolicy) -> QueryResult:
    """``checked`` run over the version at ``source``, released with ``epsilon`` micro-ε of noise."""
    raise NotImplementedError
