"""Which aggregate SQL a query grant lets run, checked on sqlglot's parse tree.

Accepted is one ``SELECT`` from the table ``data`` (the version) whose items are ``COUNT(*)``,
``COUNT(field)``, ``SUM(field)``, ``AVG(field)`` (numeric fields with bounds in the grant) and the
``GROUP BY`` fields themselves; a ``WHERE`` of comparisons, ``IN``, ``BETWEEN``, ``LIKE``,
``IS NULL`` and ``AND``/``OR``/``NOT`` over fields and literals; ``ORDER BY`` output columns and
``LIMIT``/``OFFSET`` by number. Everything else is refused by name (:class:`QueryRefused`): it is
an allow-list, so a construct sqlglot learns later is refused until it is judged. Every field
must be granted and of no identifying class (:class:`~node.fields.FieldClass` other than
``PLAIN``), wherever it appears: a ``WHERE`` on an ID number singles a person out as surely as
selecting it. Field names are matched without regard to case, as DuckDB matches them.

MIN and MAX are refused: the extreme of a group is one person's value. What runs is built by
the engine from the :class:`CheckedQuery` (fields, aggregates, the checked ``WHERE`` tree), never
from the caller's text; the normalised SQL (sqlglot's rendering, identifiers quoted, comments
dropped) is what is hashed and recorded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlglot
from eth_utils.crypto import keccak
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import TokenType

from node.access.delivery.masking import field_key
from node.errors import InvalidInput, QueryRefused
from node.fields import NOUNS, FieldClass

TABLE = "data"
"""The one table a query reads: the dataset version."""
MAX_SQL = 10_000
"""The longest query text read, in characters."""
MAX_NESTING = 32
"""The deepest parentheses read: the parser recurses on them, and no aggregate needs more."""

_DUCKDB = Dialect.get_or_raise("duckdb")
AggregateKind = Literal["count", "count_field", "sum", "avg"]

# Clauses of a SELECT that are refused, by sqlglot's argument name, in words.
_CLAUSES = {
    "with_": "WITH (a CTE)", "joins": "a join", "laterals": "LATERAL", "having": "HAVING", "qualify": "QUALIFY",
    "windows": "WINDOW", "distinct": "DISTINCT", "into": "SELECT INTO", "pivots": "PIVOT", "sample": "TABLESAMPLE",
    "prewhere": "PREWHERE", "connect": "CONNECT BY", "match": "MATCH_RECOGNIZE", "locks": "FOR UPDATE",
    "hint": "a hint", "exclude": "EXCLUDE", "settings": "SETTINGS", "format": "FORMAT", "options": "OPTIONS",
    "cluster": "CLUSTER BY", "distribute": "DISTRIBUTE BY", "sort": "SORT BY", "kind": "SELECT AS",
    "operation_modifiers": "a SELECT modifier", "for_": "FOR",
}
_ALLOWED_CLAUSES = frozenset({"expressions", "from_", "where", "group", "order", "limit", "offset"})
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Is)
_LOGIC = (exp.And, exp.Or, exp.Not, exp.Paren)
_AGGREGATES: dict[type[exp.Expression], AggregateKind] = {exp.Sum: "sum", exp.Avg: "avg"}
_REFUSED_WORDS: dict[type[exp.Expression], str] = {
    exp.Star: "SELECT *", exp.Subquery: "a subquery", exp.Select: "a subquery", exp.Exists: "EXISTS (a subquery)",
    exp.Window: "a window function", exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT",
    exp.Max: "MAX (the extreme of a group is one person's value)",
    exp.Min: "MIN (the extreme of a group is one person's value)", exp.Distinct: "DISTINCT",
    exp.Filter: "an aggregate FILTER", exp.Cast: "a CAST", exp.Placeholder: "a parameter",
}


@dataclass(frozen=True)
class QueryPolicy:
    """What a query grant allows: its ``fields`` (empty: every field of the schema), the
    dataset's field ``classes``, the clamping ``bounds`` of each numeric field, and k
    (``min_group_size``)."""

    fields: Sequence[str]
    classes: Mapping[str, FieldClass]
    bounds: Mapping[str, tuple[float, float]]
    min_group_size: int


def parse_bounds(text: str) -> dict[str, tuple[float, float]]:
    """A grant's clamping bounds from their JSON text on chain (``{"年龄": [0, 120], ...}``), low
    first. Refused (:class:`~node.errors.InvalidInput` on ``bounds``) unless an object of fields
    to pairs of finite numbers, low not above high."""
    try:
        found = json.loads(text or "{}")
    except json.JSONDecodeError as err:
        raise InvalidInput("bounds", f"not JSON: {err.msg}") from None
    if not isinstance(found, dict):
        raise InvalidInput("bounds", "must be a JSON object of fields to [low, high]")
    bounds = {}
    for name, pair in found.items():
        numbers = pair if isinstance(pair, list) and len(pair) == 2 else None
        if numbers is None or not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)
                                      for n in numbers) or numbers[0] > numbers[1]:
            raise InvalidInput("bounds", f"{name}: {json.dumps(pair, ensure_ascii=False)} is not [low, high], "
                                         "two finite numbers, low first")
        bounds[field_key(name)] = (float(numbers[0]), float(numbers[1]))
    return bounds


@dataclass(frozen=True)
class Aggregate:
    """One released aggregate: ``kind`` over ``field`` (None for ``COUNT(*)``), its values
    clamped to ``bounds`` (SUM and AVG)."""

    kind: AggregateKind
    field: str | None
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Output:
    """One output column, ``name``d: group field ``group`` (its index) or aggregate ``aggregate``."""

    name: str
    group: int | None = None
    aggregate: int | None = None


@dataclass(frozen=True)
class Order:
    """Sort the released rows by output column ``column`` (its index)."""

    column: int
    desc: bool
    nulls_first: bool


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed :func:`check_query`: its text, its normalised SQL and hash, and the
    parts the engine builds what runs from (fields by their policy names)."""

    sql: str
    normalised_sql: str
    query_hash: bytes
    groups: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    outputs: tuple[Output, ...]
    where: exp.Expr | None
    order: tuple[Order, ...]
    limit: int | None
    offset: int
    fields: frozenset[str]


class _Fields:
    """Resolves a field as written in a query to the policy's name, refusing what may not be read."""

    def __init__(self, policy: QueryPolicy) -> None:
        self.policy = policy
        self.granted = {field_key(name).casefold() for name in policy.fields}
        names = [*policy.classes, *policy.fields, *policy.bounds]
        self.known = {field_key(name).casefold(): field_key(name) for name in reversed(names)}
        self.classes = {field_key(name).casefold(): cls for name, cls in policy.classes.items()}
        self.used: set[str] = set()

    def resolve(self, column: exp.Column, where: str) -> str:
        written = field_key(column.name)
        key = written.casefold()
        name = self.known.get(key, written)
        cls = self.classes.get(key, FieldClass.PLAIN)
        if cls is not FieldClass.PLAIN:
            raise QueryRefused(f"field {name} {where}", f"it holds {NOUNS[cls]}, which no query may read, "
                               "select, group or filter on", column=name, identifying=True)
        if self.granted and key not in self.granted:
            raise QueryRefused(f"field {name} {where}", "the grant does not cover it", column=name)
        self.used.add(name)
        return name

    def bounds(self, name: str, aggregate: str) -> tuple[float, float]:
        """The clamping bounds the grant declares for numeric field ``name``, low first."""
        for field, (lo, hi) in self.policy.bounds.items():
            if field_key(field).casefold() == name.casefold():
                return float(min(lo, hi)), float(max(lo, hi))
        raise QueryRefused(f"{aggregate}({name})", "the grant declares no clamping bounds for this field, "
                               "so its noise cannot be calibrated", column=name)


def _refuse_node(node: exp.Expr, where: str) -> QueryRefused:
    for cls, words in _REFUSED_WORDS.items():
        if isinstance(node, cls):
            return QueryRefused(words, f"not allowed {where}")
    if isinstance(node, exp.Func):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this)
        return QueryRefused(f"function {name.upper()}", f"not allowed {where}; only COUNT, SUM and AVG are")
    return QueryRefused(f"{type(node).__name__.upper()} ({node.sql(dialect='duckdb')[:80]})", f"not allowed {where}")


def _statement(sql: str) -> exp.Expr:
    """``sql`` parsed as one statement, whatever it is; :class:`QueryRefused` when it is not
    readable as one (too long, too deep, not SQL, none or several)."""
    if len(sql) > MAX_SQL:
        raise QueryRefused("the query", f"is {len(sql)} characters, more than {MAX_SQL}")
    try:
        depth = deepest = 0
        for token in _DUCKDB.tokenize(sql):
            depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
            deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            raise QueryRefused("the query", f"nests parentheses {deepest} deep, more than {MAX_NESTING}")
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as err:
        raise QueryRefused("the query", f"does not parse as SQL: {str(err).splitlines()[0][:200]}") from None
    except RecursionError:
        raise QueryRefused("the query", "nests too deeply to be checked") from None
    if len(statements) != 1:
        raise QueryRefused("a second statement" if statements else "an empty query",
                           f"one SELECT is allowed, {len(statements)} statements were sent")
    return statements[0]


def _render(tree: exp.Expr) -> str:
    """The normalised SQL of a parsed statement: sqlglot's rendering, identifiers quoted, no comments."""
    return tree.sql(dialect="duckdb", identify=True, comments=False)


def normalised_sql(sql: str) -> str | None:
    """``sql`` normalised as :func:`check_query` normalises it, allowed or not; None when it is
    not readable as one statement. A refused query is recorded under this text's hash."""
    try:
        return _render(_statement(sql))
    except QueryRefused:
        return None


def _parse(sql: str) -> exp.Select:
    tree = _statement(sql)
    if not isinstance(tree, exp.Select):
        raise _refuse_node(tree, "as the statement; only one SELECT is allowed")
    for clause, value in tree.args.items():
        if value and clause not in _ALLOWED_CLAUSES:
            raise QueryRefused(_CLAUSES.get(clause, clause.upper()), "not allowed in a query")
    return tree


def _table(tree: exp.Select) -> str | None:
    """The table's alias (or None); refused unless the query reads exactly ``data``."""
    source = tree.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        if table is None:
            raise QueryRefused("a query without FROM data", "the query must read the table data")
        raise _refuse_node(table.this if isinstance(table, exp.Table) else table, "in FROM; only the table data is")
    if table.name.casefold() != TABLE or table.args.get("db") or table.args.get("catalog"):
        raise QueryRefused(f"table {table.sql(dialect='duckdb')}", "only the table data (this version) may be read")
    for key, value in table.args.items():
        if value and key not in ("this", "alias"):
            raise QueryRefused(_CLAUSES.get(key, key.upper()), "not allowed on the table")
    alias = table.args.get("alias")
    if alias is not None and alias.columns:
        raise QueryRefused("column aliases on the table", "fields are read by their own names")
    return table.alias or None


class _Checker:
    """One pass over a parsed query, collecting the parts of its :class:`CheckedQuery`."""

    def __init__(self, tree: exp.Select, policy: QueryPolicy) -> None:
        self.tree = tree
        self.fields = _Fields(policy)
        self.alias = _table(tree)

    def column(self, node: exp.Expression, where: str) -> str:
        if not isinstance(node, exp.Column) or not isinstance(node.this, exp.Identifier):
            raise _refuse_node(node.this if isinstance(node, exp.Column) else node, where)
        qualifier = node.table.casefold()
        if qualifier not in ("", TABLE, (self.alias or TABLE).casefold()) or node.args.get("db"):
            raise QueryRefused(f"column {node.sql(dialect='duckdb')}", "only fields of the table data may be read")
        return self.fields.resolve(node, where)

    def groups(self) -> tuple[str, ...]:
        group = self.tree.args.get("group")
        if group is None:
            return ()
        for key, value in group.args.items():
            if value and key != "expressions":
                raise QueryRefused(f"GROUP BY {key.upper()}", "only GROUP BY fields is allowed")
        return tuple(self.column(node, "in GROUP BY") for node in group.expressions)

    def aggregate(self, node: exp.Expression) -> Aggregate:
        if isinstance(node, exp.Count):
            if isinstance(node.this, exp.Star):
                return Aggregate("count", None)
            return Aggregate("count_field", self.column(node.this, "in COUNT"))
        kind = _AGGREGATES.get(type(node))
        if kind is None:
            raise _refuse_node(node, "in SELECT")
        words = kind.upper()
        name = self.column(node.this, f"in {words}")
        return Aggregate(kind, name, self.fields.bounds(name, words))

    def outputs(self, groups: tuple[str, ...]) -> tuple[tuple[Output, ...], tuple[Aggregate, ...]]:
        outputs: list[Output] = []
        aggregates: list[Aggregate] = []
        for item in self.tree.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            if isinstance(inner, exp.Column):
                name = self.column(inner, "in SELECT")
                if name not in groups:
                    raise QueryRefused(f"field {name} in SELECT", "a field may be selected only when grouped by; "
                                       "a bare field lists people's values", column=name)
                outputs.append(Output(item.alias or name, group=groups.index(name)))
            elif isinstance(inner, exp.Star):
                raise _refuse_node(inner, "in SELECT")
            else:
                aggregates.append(self.aggregate(inner))
                outputs.append(Output(item.alias or inner.sql(dialect="duckdb"), aggregate=len(aggregates) - 1))
        names = [output.name.casefold() for output in outputs]
        if twice := next((o.name for o in outputs if names.count(o.name.casefold()) > 1), None):
            raise QueryRefused(f"output column {twice}", "named twice; give each output its own name")
        if not aggregates:
            raise QueryRefused("a query without an aggregate", "select COUNT, SUM or AVG")
        return tuple(outputs), tuple(aggregates)

    def where(self) -> exp.Expr | None:
        clause = self.tree.args.get("where")
        if clause is None:
            return None
        condition: exp.Expr = clause.this.copy()
        if isinstance(condition, exp.Column):
            raise QueryRefused("a bare field as the WHERE condition", "compare it with a value")
        for node in list(condition.walk()):
            node.comments = None
            if isinstance(node, exp.Column):
                node.replace(exp.column(self.column(node, "in WHERE"), quoted=True))
            elif isinstance(node, exp.Identifier) and isinstance(node.parent, exp.Column):
                continue
            elif not isinstance(node, (*_COMPARISONS, *_LOGIC, exp.Between, exp.In, exp.Literal, exp.Neg,
                                       exp.Null, exp.Boolean)):
                raise _refuse_node(node, "in WHERE")
        return condition

    def order(self, outputs: tuple[Output, ...]) -> tuple[Order, ...]:
        clause = self.tree.args.get("order")
        if clause is None:
            return ()
        names = [output.name.casefold() for output in outputs]
        items = [item.this if isinstance(item, exp.Alias) else item for item in self.tree.expressions]
        orders = []
        for ordered in clause.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit() \
                    and 1 <= int(key.name) <= len(outputs):
                index = int(key.name) - 1
            elif isinstance(key, exp.Column) and not key.table and key.name.casefold() in names:
                index = names.index(key.name.casefold())
            elif key in items:
                index = items.index(key)
            else:
                raise QueryRefused(f"ORDER BY {key.sql(dialect='duckdb')}", "only output columns may be ordered by")
            orders.append(Order(index, bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first"))))
        return tuple(orders)

    def count(self, clause: str) -> int | None:
        node = self.tree.args.get(clause)
        if node is None:
            return None
        value = node.expression
        if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
            raise QueryRefused(f"{clause.upper()} {value.sql(dialect='duckdb')}", "must be a whole number")
        return int(value.name)


def check_query(sql: str, policy: QueryPolicy) -> CheckedQuery:
    """``sql`` checked against ``policy``: the parts the engine runs, its normalised SQL and hash.
    :class:`~node.errors.QueryRefused` names the first construct or field not allowed."""
    tree = _parse(sql)
    checker = _Checker(tree, policy)
    groups = checker.groups()
    outputs, aggregates = checker.outputs(groups)
    where = checker.where()
    order = checker.order(outputs)
    limit = checker.count("limit")
    offset = checker.count("offset") or 0
    normalised = _render(tree)
    return CheckedQuery(sql=sql, normalised_sql=normalised, query_hash=keccak(normalised.encode()), groups=groups,
                        aggregates=aggregates, outputs=outputs, where=where, order=order, limit=limit,
                        offset=offset, fields=frozenset(checker.fields.used))
