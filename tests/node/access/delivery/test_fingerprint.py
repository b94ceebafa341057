"""Delivery fingerprints: copies differ in bytes only, and a leaked copy names its delivery."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.access.delivery.fingerprint import (
    Attribution, Kind, attribute, content_hash, extract_marks, fingerprint_csv, fingerprint_jsonl,
)
from node.errors import InvalidInput, NotAttributable

KEY = b"a node's fingerprint key, 32 B.."
OTHER_KEY = b"another node's fingerprint key.."
DELIVERIES = [hashlib.sha256(f"delivery {i}".encode()).digest() for i in range(50)]
KINDS: list[Kind] = ["csv", "jsonl"]
CITIES = ["Beijing", "Shanghai, Pudong", 'the "new" district', "广州", "", "Chengdu"]


def _table(rows: int = 500, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    header = ["id", "name", "city", "amount"]
    return [header] + [
        [str(i), rng.choice("王李张刘陈") + "**", rng.choice(CITIES), f"{rng.uniform(0, 1e4):.2f}"]
        for i in range(rows)
    ]


def _records(rows: int = 500, seed: int = 7) -> list[dict[str, object]]:
    header, *body = _table(rows, seed)
    return [{**dict(zip(header, row)), "amount": float(row[3]), "tags": [row[2], i % 3 == 0]}
            for i, row in enumerate(body)]


def _deliver(kind: Kind, delivery: bytes, rows: int = 500, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    if kind == "csv":
        fingerprint_csv(_table(rows), out, key, delivery)
    else:
        fingerprint_jsonl(_records(rows), out, key, delivery)
    return out.getvalue()


def _lines(copy: bytes) -> list[bytes]:
    """Records one per line: the test data has no line break inside a field."""
    return copy.splitlines(keepends=True)


def _attribute(copy: bytes, kind: Kind) -> Attribution:
    return attribute(io.BytesIO(copy), kind, KEY, DELIVERIES)


def _pinned(copy: bytes, kind: Kind) -> bool:
    """Whether the copy is confidently attributed to any delivery at all."""
    try:
        return _attribute(copy, kind).confident
    except NotAttributable:
        return False


def _read_csv(copy: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(copy.decode("utf-8"), newline="")))


def _read_jsonl(copy: bytes) -> list[object]:
    return [json.loads(line) for line in copy.decode("utf-8").split("\n")[:-1]]


# ---------------------------------------------------------------- delivering


def test_two_deliveries_of_a_csv_differ_in_bytes_but_read_back_the_same_rows() -> None:
    first, second = _deliver("csv", DELIVERIES[3]), _deliver("csv", DELIVERIES[4])
    assert first != second
    assert _read_csv(first) == _read_csv(second) == _table()


def test_two_deliveries_of_json_lines_differ_in_bytes_but_read_back_the_same_records() -> None:
    first, second = _deliver("jsonl", DELIVERIES[3]), _deliver("jsonl", DELIVERIES[4])
    assert first != second
    assert _read_jsonl(first) == _read_jsonl(second) == _records()


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_delivery_written_twice_is_the_same_bytes(kind: Kind) -> None:
    assert _deliver(kind, DELIVERIES[2]) == _deliver(kind, DELIVERIES[2])


def test_receipt_hash_and_counts_describe_exactly_the_bytes_written() -> None:
    out = io.BytesIO()
    stats = fingerprint_csv(_table(), out, KEY, DELIVERIES[0])
    assert stats.sha256 == content_hash(io.BytesIO(out.getvalue())) == hashlib.sha256(out.getvalue()).digest()
    assert (stats.rows, stats.size) == (501, len(out.getvalue()))
    assert stats.bits == sum(m.decided.bit_count() for m in extract_marks(io.BytesIO(out.getvalue()), "csv"))


@pytest.mark.parametrize(
    ("deliver", "field"),
    [
        (lambda: fingerprint_csv([["a"]], io.BytesIO(), b"short", DELIVERIES[0]), "key"),
        (lambda: fingerprint_csv([["a"]], io.BytesIO(), KEY, b"\x01" * 20), "delivery_id"),
        (lambda: fingerprint_csv([["a"], []], io.BytesIO(), KEY, DELIVERIES[0]), "rows"),
        (lambda: fingerprint_csv([["a\ud800"]], io.BytesIO(), KEY, DELIVERIES[0]), "rows"),
        (lambda: fingerprint_jsonl([{1: "a"}], io.BytesIO(), KEY, DELIVERIES[0]), "records"),  # type: ignore[dict-item]
    ],
)
def test_a_delivery_refuses_input_it_cannot_fingerprint_faithfully(deliver: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        deliver()
    assert raised.value.field == field


# ---------------------------------------------------------------- attributing


@pytest.mark.parametrize("kind", KINDS)
def test_each_copy_is_attributed_to_its_own_delivery_among_fifty(kind: Kind) -> None:
    for delivery in (DELIVERIES[0], DELIVERIES[17], DELIVERIES[49]):
        found = _attribute(_deliver(kind, delivery), kind)
        assert found.confident and found.delivery_id == delivery
        assert found.score == 1.0 and found.runner_up_score is not None and found.runner_up_score < 0.6


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_cut_after_sixty_percent_of_its_bytes_is_still_attributed(kind: Kind) -> None:
    copy = _deliver(kind, DELIVERIES[5])
    found = _attribute(copy[: len(copy) * 6 // 10], kind)
    assert found.confident and found.delivery_id == DELIVERIES[5]


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_with_a_tenth_of_its_rows_deleted_from_the_middle_is_still_attributed(kind: Kind) -> None:
    lines = _lines(_deliver(kind, DELIVERIES[6]))
    found = _attribute(b"".join(lines[:200] + lines[250:]), kind)
    assert found.confident and found.delivery_id == DELIVERIES[6]


@pytest.mark.parametrize("kind", KINDS)
def test_a_shuffled_slice_without_its_header_is_still_attributed(kind: Kind) -> None:
    lines = _lines(_deliver(kind, DELIVERIES[7]))[300:360]
    random.Random(1).shuffle(lines)
    found = _attribute(b"".join(lines), kind)
    assert found.confident and found.delivery_id == DELIVERIES[7]


def test_a_csv_copy_whose_line_endings_were_converted_is_still_attributed() -> None:
    found = _attribute(_deliver("csv", DELIVERIES[8]).replace(b"\r\n", b"\n"), "csv")
    assert found.confident and found.delivery_id == DELIVERIES[8]


@pytest.mark.parametrize(("kind", "rows"), [("csv", 2), ("jsonl", 3)])
def test_a_three_line_file_is_not_attributable(kind: Kind, rows: int) -> None:
    copy = _deliver(kind, DELIVERIES[9], rows=rows)
    assert len(_lines(copy)) == 3
    with pytest.raises(NotAttributable):
        _attribute(copy, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_re_serialised_by_a_tool_is_pinned_on_no_one(kind: Kind) -> None:
    copy = _deliver(kind, DELIVERIES[10])
    if kind == "csv":
        text = io.StringIO(newline="")
        csv.writer(text).writerows(_read_csv(copy))
        rewritten = text.getvalue().encode()
    else:
        rewritten = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _read_jsonl(copy)).encode()
    assert not _pinned(rewritten, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_from_another_node_is_pinned_on_no_delivery_of_this_one(kind: Kind) -> None:
    assert not _pinned(_deliver(kind, DELIVERIES[11], key=OTHER_KEY), kind)


def test_a_copy_mixed_from_two_deliveries_names_both_and_is_not_confident() -> None:
    first, second = _lines(_deliver("csv", DELIVERIES[12])), _lines(_deliver("csv", DELIVERIES[13]))
    found = _attribute(b"".join(first[:250] + second[250:]), "csv")
    assert {found.delivery_id, found.runner_up} == {DELIVERIES[12], DELIVERIES[13]}
    assert not found.confident


# ---------------------------------------------------------------- round trips

_cell = st.text(st.characters(blacklist_categories=["Cs"]) | st.sampled_from(['"', ",", "\n", "\r", " "]), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _cell,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_cell, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_cell, min_size=1, max_size=6), min_size=1, max_size=12))
def test_csv_values_round_trip_and_every_bit_reads_back(rows: list[list[str]]) -> None:
    out = io.BytesIO()
    stats = fingerprint_csv(rows, out, KEY, DELIVERIES[0])
    assert _read_csv(out.getvalue()) == rows
    marks = list(extract_marks(io.BytesIO(out.getvalue()), "csv"))
    assert len(marks) == len(rows)
    assert sum(m.decided.bit_count() for m in marks) == stats.bits


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(_cell, _json, max_size=5), min_size=1, max_size=12))
def test_json_values_round_trip_and_every_bit_reads_back(records: list[dict[str, object]]) -> None:
    out = io.BytesIO()
    stats = fingerprint_jsonl(records, out, KEY, DELIVERIES[0])
    assert _read_jsonl(out.getvalue()) == records
    marks = list(extract_marks(io.BytesIO(out.getvalue()), "jsonl"))
    assert len(marks) == len(records)
    assert sum(m.decided.bit_count() for m in marks) == stats.bits
