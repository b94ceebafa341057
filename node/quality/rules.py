"""Data-quality rules checked over a dataset version in one streaming pass: the PDMA quality loop.

A department states rules (:class:`Rule`) about a dataset; :func:`check_file` reads a version,
CSV with a header or JSON lines, one record at a time, and returns a :class:`QualityReport` whose
canonical JSON and :meth:`~QualityReport.digest` are the same for the same file, rules, classes
and times, so a report can be anchored and checked again by anyone holding the file.

- completeness: the share of records with a non-empty value in each of the rule's fields, at
  least ``threshold``. ``None``, ``""`` and a missing JSON key are empty; a whitespace cell is
  not (validity judges it).
- validity: the share of the fields' non-empty values (each cell counts) that have the shape of
  its field's class
  (:func:`node.fields.has_shape`; ID numbers' birth dates not after ``now``'s date in Beijing
  when ``now`` is given). A JSON number or bool is judged as its
  ``str()``; an object or array is never valid for a classed field. An unclassed field is plain
  text: every value is valid.
- uniqueness: no two records share the key made of ``fields``. Only an 8-byte BLAKE2b digest of
  each key is kept, so memory grows by the number of records but never by their width. A collision
  can report a duplicate that is not one (about n²/2⁶⁵ for n records), never hide one. Empty parts
  are part of the key: two records with no value in the key's fields are duplicates.
- timeliness: the version was produced at most ``max_age_seconds`` before ``now``.

A record that cannot be read, a JSON line that is not an object or a CSV row whose cell count is
not the header's, lacks every field: it fails every completeness rule and no other rule sees it.
A field that no record has (not in the CSV header, in no JSON object) fails its rules outright.
A share over nothing (no records, no non-empty values) is 1. Checking no rules at all is refused
(:class:`InvalidInput`): a version nothing was asked of has not passed anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import BinaryIO, TextIO

from node.errors import InvalidInput
from node.fields import NOUNS, FieldClass, has_shape
from node.formats import Kind

EXAMPLES = 5


class RuleKind(Enum):
    """What a rule asks of a dataset version."""

    COMPLETENESS = "completeness"
    VALIDITY = "validity"
    UNIQUENESS = "uniqueness"
    TIMELINESS = "timeliness"


# How many fields each kind names: at least, at most (None: no limit), in words.
_ARITY: dict[RuleKind, tuple[int, int | None, str]] = {
    RuleKind.COMPLETENESS: (1, None, "one field or more"),
    RuleKind.VALIDITY: (1, None, "one field or more"),
    RuleKind.UNIQUENESS: (1, None, "one field or more"),
    RuleKind.TIMELINESS: (0, 0, "no field"),
}


@dataclass(frozen=True)
class Rule:
    """One quality rule; checked when built, so a rule that exists is a rule that can run.

    ``threshold`` is the least share required by completeness and validity (other kinds ignore
    it); ``max_age_seconds`` belongs to timeliness and to it alone.
    """

    kind: RuleKind
    fields: tuple[str, ...] = ()
    threshold: float = 1.0
    max_age_seconds: int | None = None

    def __post_init__(self) -> None:
        low, high, words = _ARITY[self.kind]
        if len(self.fields) < low or (high is not None and len(self.fields) > high):
            raise InvalidInput("fields", f"a {self.kind.value} rule names {words}, not {len(self.fields)}")
        if not all(self.fields) or len(set(self.fields)) != len(self.fields):
            raise InvalidInput("fields", f"{list(self.fields)} holds an empty or repeated name")
        if not 0 <= self.threshold <= 1:
            raise InvalidInput("threshold", f"{self.threshold} is not between 0 and 1")
        timeliness = self.kind is RuleKind.TIMELINESS
        if (self.max_age_seconds is None) == timeliness:
            reason = "a timeliness rule needs one" if timeliness else "only a timeliness rule has one"
            raise InvalidInput("max_age_seconds", reason)
        if self.max_age_seconds is not None and self.max_age_seconds < 0:
            raise InvalidInput("max_age_seconds", f"{self.max_age_seconds} is negative")

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> Rule:
        """The rule ``value`` describes, in the form :meth:`to_json` writes."""
        unknown = sorted(set(value) - {"kind", "fields", "threshold", "max_age_seconds"})
        if unknown:
            raise InvalidInput("rule", f"unknown keys {unknown}")
        kind = value.get("kind")
        if not isinstance(kind, str) or kind not in {k.value for k in RuleKind}:
            raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(k.value for k in RuleKind)}")
        fields = value.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
            raise InvalidInput("fields", f"{fields!r} is not a list of field names")
        threshold = value.get("threshold", 1.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise InvalidInput("threshold", f"{threshold!r} is not a number")
        max_age = value.get("max_age_seconds")
        if isinstance(max_age, bool) or not isinstance(max_age, int | None):
            raise InvalidInput("max_age_seconds", f"{max_age!r} is not a whole number of seconds")
        return cls(RuleKind(kind), tuple(fields), float(threshold), max_age)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "fields": list(self.fields),
            "threshold": float(self.threshold),
            "max_age_seconds": self.max_age_seconds,
        }


@dataclass(frozen=True)
class RuleResult:
    """How a version fared against one rule: ``checked`` cells, records or versions (timeliness
    checks one), ``failed`` of them broke it, ``measure`` is the share, duplicate count or age in
    seconds, and ``examples`` are the first record numbers (1-based, header not counted) that
    broke it."""

    rule: Rule
    passed: bool
    checked: int
    failed: int
    measure: float
    examples: tuple[int, ...]
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule.to_json(),
            "passed": self.passed,
            "checked": self.checked,
            "failed": self.failed,
            "measure": float(self.measure),
            "examples": list(self.examples),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class QualityReport:
    """The results of every rule over a version of ``records`` records, in the rules' order."""

    records: int
    results: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def to_json(self) -> dict[str, object]:
        return {"records": self.records, "passed": self.passed, "results": [r.to_json() for r in self.results]}

    def digest(self) -> str:
        """The SHA-256 of the canonical JSON of the report, as 0x hex."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "0x" + hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- shapes of one value

_BEIJING = timezone(timedelta(hours=8))


def _empty(value: object) -> bool:
    return value is None or value == ""


def _valid(cls: FieldClass, value: object, latest: date | None) -> bool:
    if isinstance(value, dict | list):
        return cls is FieldClass.PLAIN
    return has_shape(cls, value if isinstance(value, str) else str(value), latest)


# ---------------------------------------------------------------- records

_Record = Mapping[str, object] | None  # None: a record that cannot be read


def _csv_records(stream: TextIO, names: set[str]) -> Iterator[_Record]:
    rows = csv.reader(stream)
    header = [name.strip() for name in next(rows, [])]
    names.update(header)
    for row in rows:
        if row:
            yield dict(zip(header, row)) if len(row) == len(header) else None


def _jsonl_records(stream: TextIO, names: set[str]) -> Iterator[_Record]:
    for line in stream:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # ValueError: bad JSON, or an integer past the digit limit
            value = None
        if isinstance(value, dict):
            record = {name.strip(): item for name, item in value.items()}
            names.update(record)
            yield record
        else:
            yield None


_READERS: dict[str, Callable[[TextIO, set[str]], Iterator[_Record]]] = {"csv": _csv_records, "jsonl": _jsonl_records}


# ---------------------------------------------------------------- rules over records


@dataclass
class _Tally:
    checked: int = 0
    failed: int = 0
    examples: list[int] = field(default_factory=list)

    def count(self, number: int, ok: bool) -> None:
        self.checked += 1
        if not ok:
            self.failed += 1
            if len(self.examples) < EXAMPLES and number not in self.examples[-1:]:
                self.examples.append(number)


def _judge(rule: Rule, classes: Mapping[str, FieldClass], latest: date | None) -> Callable[[_Record], list[bool]]:
    """Whether a record keeps ``rule``: one verdict per record (per non-empty cell for
    validity); none when the rule does not look at it."""
    if rule.kind is RuleKind.COMPLETENESS:
        return lambda record: [record is not None and not any(_empty(record.get(name)) for name in rule.fields)]
    if rule.kind is RuleKind.VALIDITY:
        named = [(name, classes.get(name, FieldClass.PLAIN)) for name in rule.fields]

        def valid(record: _Record) -> list[bool]:
            if record is None:
                return []
            return [_valid(cls, value, latest) for name, cls in named if not _empty(value := record.get(name))]

        return valid
    keys: set[bytes] = set()

    def unique(record: _Record) -> list[bool]:
        if record is None:
            return []
        parts = [None if _empty(value := record.get(name)) else value for name in rule.fields]
        key = hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=8).digest()
        if key in keys:
            return [False]
        keys.add(key)
        return [True]

    return unique


def _percent(share: float) -> str:
    # Rounded down, so a share just short of what is required never prints as meeting it.
    return f"{math.floor(share * 10000 + 1e-9) / 100:g}%"


def _result(rule: Rule, tally: _Tally, names: set[str], classes: Mapping[str, FieldClass]) -> RuleResult:
    missing = [f"field {name}" for name in rule.fields if name not in names]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return RuleResult(rule, False, 0, 0, 0.0, (), f"{' and '.join(missing)} {verb} not in the data")
    if rule.kind is RuleKind.UNIQUENESS:
        passed, measure = tally.failed == 0, float(tally.failed)
        detail = f"key ({', '.join(rule.fields)}): {tally.failed} of {tally.checked} records repeat an earlier key"
    else:
        measure = 1.0 if tally.checked == 0 else (tally.checked - tally.failed) / tally.checked
        passed = measure >= rule.threshold
        nouns = {NOUNS[classes.get(name, FieldClass.PLAIN)] for name in rule.fields}
        noun = nouns.pop() if len(nouns) == 1 else "of their field's class"
        broke, adjective = (
            ("records lack a value" if len(rule.fields) == 1 else "records lack a value in one of them", "complete")
            if rule.kind is RuleKind.COMPLETENESS
            else (f"non-empty values are not {noun}", "valid")
        )
        detail = (
            f"{'field' if len(rule.fields) == 1 else 'fields'} {', '.join(rule.fields)}: "
            f"{tally.failed} of {tally.checked} {broke} "
            f"({_percent(measure)} {adjective}, {_percent(rule.threshold)} required)"
        )
    return RuleResult(rule, passed, tally.checked, tally.failed, measure, tuple(tally.examples), detail)


def _timeliness(rule: Rule, produced_at: int | None, now: int | None) -> RuleResult:
    if produced_at is None:
        raise InvalidInput("produced_at", "a timeliness rule needs the time the version was produced")
    assert rule.max_age_seconds is not None  # Rule.__post_init__ requires it
    age = (int(time.time()) if now is None else now) - produced_at
    passed = age <= rule.max_age_seconds
    detail = f"the version was produced {age} s before the check ({rule.max_age_seconds} s allowed)"
    return RuleResult(rule, passed, 1, 0 if passed else 1, float(age), (), detail)


def check_file(
    path: Path | BinaryIO,
    kind: Kind,
    rules: Sequence[Rule],
    field_classes: Mapping[str, FieldClass],
    *,
    produced_at: int | None = None,
    now: int | None = None,
    encoding: str = "utf-8",
) -> QualityReport:
    """Check the version at ``path`` (or read from an open binary stream, closed at the end)
    against ``rules`` in one pass over its text, in ``encoding`` (a UTF-8 byte order mark is
    dropped); refused when there is no rule.

    ``field_classes`` classes fields by name, as registration does. ``produced_at`` and ``now`` are
    Unix seconds; ``produced_at`` is needed by timeliness, ``now`` defaults to the clock there,
    and when given it also bounds ID numbers' birth dates.
    """
    read = _READERS.get(kind)
    if read is None:
        raise InvalidInput("kind", f"{kind!r} is not csv or jsonl")
    if not rules:
        raise InvalidInput("rules", "the dataset has no quality rules to check: set some first")
    results = {
        i: _timeliness(rule, produced_at, now) for i, rule in enumerate(rules) if rule.kind is RuleKind.TIMELINESS
    }
    latest = None if now is None else datetime.fromtimestamp(now, _BEIJING).date()
    tallies = {i: _Tally() for i in range(len(rules)) if i not in results}
    judges = [(_judge(rules[i], field_classes, latest), tally) for i, tally in tallies.items()]
    names: set[str] = set()
    records = 0
    try:
        text = "utf-8-sig" if encoding.startswith("utf-8") else encoding
        binary = path.open("rb") if isinstance(path, Path) else path
        with io.TextIOWrapper(binary, encoding=text, newline="") as stream:
            for records, record in enumerate(read(stream, names), 1):
                for judge, tally in judges:
                    for verdict in judge(record):
                        tally.count(records, verdict)
    except UnicodeDecodeError as err:
        raise InvalidInput(kind, f"not {encoding.upper()} text: {err.reason}") from err
    except csv.Error as err:
        raise InvalidInput(kind, f"record {records + 1}: {err}") from err
    results.update({i: _result(rules[i], tally, names, field_classes) for i, tally in tallies.items()})
    return QualityReport(records, tuple(results[i] for i in range(len(rules))))
