"""Which aggregate SQL a query grant lets run (interface; the checks follow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from node.fields import FieldClass


@dataclass(frozen=True)
class QueryPolicy:
    """What a query grant allows: its ``fields`` (empty: every field of the schema), the
    dataset's field ``classes``, the clamping ``bounds`` of each numeric field, and k
    (``min_group_size``)."""

    fields: Sequence[str]
    classes: Mapping[str, FieldClass]
    bounds: Mapping[str, tuple[float, float]]
    min_group_size: int


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed :func:`check_query`."""

    sql: str
    normalised_sql: str
    query_hash: bytes


def check_query(sql: str, policy: QueryPolicy) -> CheckedQuery:
    """``sql`` checked against ``policy``; :class:`~node.errors.QueryRefused` names what is not allowed."""
    raise NotImplementedError
