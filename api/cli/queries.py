"""Query grants from the command line: the privacy terms of ``provledger request --query`` (read
and checked here, so a bad value exits 2 before anything is signed) and ``provledger queries
GRANT``, a grant's terms, ε spent, queued and left, and its queries."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from api.cli.client import UsageError
from api.cli.options import emit
from api.cli.signin import auditor_or_staff_sign_in, connect
from ledger.clients import PrivacyTerms
from node.catalog.texts import canonical_json
from node.errors import InvalidInput
from node.fields import NOUNS, FieldClass
from node.query import epsilon_micro, parse_bounds


@dataclass(frozen=True)
class BoundOption:
    """One ``--bounds FIELD=LOW:HIGH``."""

    field: str
    low: int | float
    high: int | float


def _bound_number(text: str) -> int | float:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not number.is_finite() or not math.isfinite(float(number)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def bounds_option(text: str) -> BoundOption:
    """``--bounds 年龄=0:120``: a numeric field's clamping bounds, low below high."""
    field, equals, pair = text.partition("=")
    low, colon, high = pair.partition(":")
    if not equals or not colon or not field.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=LOW:HIGH, e.g. 年龄=0:120")
    bound = BoundOption(field.strip(), _bound_number(low), _bound_number(high))
    if not bound.low < bound.high:
        raise argparse.ArgumentTypeError(f"{text}: the low bound must be below the high one")
    return bound


def privacy_terms(*, budget: str, cap: str, k: int, bounds: Sequence[BoundOption]) -> PrivacyTerms:
    """The terms of ``--query``, ε read as decimals; :class:`UsageError` (exit 2) for a cap above
    the budget, k below 2 or a field bounded twice."""
    try:
        budget_micro, cap_micro = epsilon_micro(budget), epsilon_micro(cap)
    except InvalidInput as err:
        raise UsageError(f"--epsilon-budget/--epsilon-cap: {err.reason}") from err
    if cap_micro > budget_micro:
        raise UsageError(f"--epsilon-cap {cap} is above --epsilon-budget {budget}: one query cannot spend more "
                         "than the whole budget")
    if k < 2:
        raise UsageError(f"--k {k}: groups of fewer than 2 rows single a person out; give at least 2")
    fields = [b.field for b in bounds]
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        raise UsageError(f"--bounds names {', '.join(twice)} more than once")
    text = canonical_json({b.field: [b.low, b.high] for b in bounds})
    try:
        parse_bounds(text)
    except InvalidInput as err:
        raise UsageError(f"--bounds: {err.reason}") from err
    return PrivacyTerms(budget_micro, cap_micro, k, text)


def check_bounded_fields(dataset_id: str, entry: Mapping[str, Any], fields: Sequence[str],
                         terms: PrivacyTerms) -> None:
    """Every bounded field is one of the dataset's, asked for (when fields are named), and of no
    identifying class: its bounds would let a SUM or AVG reach a person's data."""
    classes = entry.get("field_classes") or {}
    for name in parse_bounds(terms.bounds):
        if name not in entry["fields"]:
            raise UsageError(f"--bounds {name}: dataset {dataset_id} has no such field "
                             f"(its fields: {', '.join(entry['fields'])})")
        if fields and name not in fields:
            raise UsageError(f"--bounds {name}: not among the fields asked for ({', '.join(fields)})")
        cls = FieldClass(classes.get(name, FieldClass.PLAIN.value))
        if cls is not FieldClass.PLAIN:
            raise UsageError(f"--bounds {name}: it holds {NOUNS[cls]}, an identifying field no query may read")


# ---------------------------------------------------------------- provledger queries


def describe_grant(found: Mapping[str, Any]) -> list[str]:
    """A query grant and its queries in lines: names, purpose and terms in words, ε as decimals."""
    lines = [
        f"{found['grant_id']}  {found['status']}",
        f"  dataset   {found['dataset_name']} ({found['dataset_id']})",
        f"  purpose   {found['purpose'] if found['purpose'] is not None else '(not on this node)'}",
        f"  fields    {', '.join(found['fields']) or 'every non-identifying field'}",
        f"  terms     {found['terms']['words']}",
        f"  ε         {found['epsilon_spent']} of {found['terms']['epsilon_budget']} spent, "
        f"{found['epsilon_queued']} queued, {found['epsilon_left']} left; "
        f"{found['uses']} of {found['max_uses']} uses",
    ]
    for q in found["queries"]:
        lines.append(f"  #{q['sequence']:<4} block {q['block_number']}  ε {q['epsilon']}  {q['rows_scanned']} rows  "
                     f"result {q['result_hash']}")
        lines.append(f"        {q['sql'] if q['sql'] is not None else 'query ' + q['query_hash']}")
    if not found["queries"]:
        lines.append("  no query recorded yet")
    for r in found.get("refused", []):
        lines.append(f"  refused  block {r['block_number']}  {r['reason']} (nothing spent)")
        lines.append(f"        {r['sql'] if r['sql'] is not None else 'query ' + r['query_hash']}")
    return lines


def cmd_queries(args: argparse.Namespace) -> int:
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        found: dict[str, Any] = api.call("GET", f"/grants/{args.grant}/queries")
    emit(args, found, lambda: print("\n".join(describe_grant(found))))
    return 0
