"""Aggregate queries over a dataset version, released with privacy checks (数据可用不可见).

A consumer with a query grant sends aggregate SQL; :func:`check_query` accepts only aggregates
over the grant's non-identifying fields (:mod:`node.query.policy`) and builds what runs from the
parsed tree; :func:`run` runs it in DuckDB over the verified source, suppresses groups under k
and adds OpenDP noise calibrated to the ε spent (:mod:`node.query.engine`,
:mod:`node.query.noise`); ε is counted in exact micro-ε (:mod:`node.query.budget`).

No chain, HTTP or outbox here: recording a query and its budget is the caller's
(``node.access.queries``).
"""

from __future__ import annotations

from node.errors import QueryRefused
from node.query.budget import epsilon_micro, epsilon_text, split
from node.query.engine import QueryResult, run
from node.query.policy import CheckedQuery, QueryPolicy, check_query, normalised_sql, parse_bounds

__all__ = ["CheckedQuery", "QueryPolicy", "QueryRefused", "QueryResult", "check_query", "epsilon_micro",
           "epsilon_text", "normalised_sql", "parse_bounds", "run", "split"]
