"""Delivery fingerprints: copies differ only in mask glyphs and encoding, and a leaked copy names
its delivery through ordinary handling, or names no one and says why."""

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

from node.access.delivery.fingerprint import ENCODING, WIDE_MASK, plain_masks
from node.access.delivery.leaks import MIN_BITS, Attribution, attribute, content_hash, extract_marks
from node.access.delivery.stamp import fingerprint_csv, fingerprint_jsonl
from node.errors import InvalidInput
from node.fields import FieldClass, mask_value
from node.formats import Kind

KEY = b"a node's fingerprint key, 32 B.."
OTHER_KEY = b"another node's fingerprint key.."
DELIVERIES = [hashlib.sha256(f"delivery {i}".encode()).digest() for i in range(20)]
KINDS: list[Kind] = ["csv", "jsonl"]
HEADER = ["编号", "姓名", "身份证号", "手机号", "住址", "区县", "金额"]
MASKED = {"姓名": FieldClass.NAME, "身份证号": FieldClass.ID_NUMBER, "手机号": FieldClass.MOBILE,
          "住址": FieldClass.ADDRESS}
DISTRICTS = ["朝阳区", "海淀区, 北区", '"新"区', "", "东城区"]


def _source(rows: int = 300, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    body = [[str(i), rng.choice("王李张刘陈") + rng.choice(["小明", "芳", "建国"]), f"11010519{rng.randrange(50, 99)}0101{i:03d}X",
             f"1{rng.choice('3589')}{rng.randrange(10**9):09d}", f"北京市朝阳区建国路{i}号院{rng.randrange(9)}楼",
             rng.choice(DISTRICTS), f"{rng.uniform(0, 1e4):.2f}"] for i in range(rows)]
    return [HEADER] + body


def _table(rows: int = 300) -> list[list[str]]:
    """The rows as masking leaves them: what the fingerprint is given."""
    columns = [MASKED.get(name) for name in HEADER]
    header, *body = _source(rows)
    return [header] + [[mask_value(c, v) if c else v for c, v in zip(columns, row, strict=True)] for row in body]


def _records(rows: int = 300) -> list[dict[str, object]]:
    header, *body = _table(rows)
    return [{**dict(zip(header, row)), "金额": float(row[6]), "标签": [row[5], i % 3 == 0]} for i, row in enumerate(body)]


def _deliver(kind: Kind, delivery: bytes, rows: int = 300, key: bytes = KEY, encoding: str = "utf-8") -> bytes:
    out = io.BytesIO()
    if kind == "csv":
        fingerprint_csv(_table(rows), out, key, delivery, masked=MASKED, encoding=encoding)
    else:
        fingerprint_jsonl(_records(rows), out, key, delivery, masked=MASKED, encoding=encoding)
    return out.getvalue()


def _attribute(copy: bytes, kind: Kind) -> Attribution:
    return attribute(io.BytesIO(copy), kind, KEY, DELIVERIES)


def _read_csv(copy: bytes, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(copy.decode(encoding), newline="")))


def _write_csv(rows: list[list[str]], **options: object) -> str:
    text = io.StringIO(newline="")
    csv.writer(text, **options).writerows(rows)  # type: ignore[arg-type]
    return text.getvalue()


def _read_jsonl(copy: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in copy.decode("utf-8").split("\n")[:-1]]


def _names_no_one(found: Attribution) -> None:
    assert not found.confident and found.delivery_id is None and found.reason


# ---------------------------------------------------------------- delivering


@pytest.mark.parametrize("kind", KINDS)
def test_two_deliveries_differ_in_bytes_but_read_back_the_same_values_but_for_mask_glyphs(kind: Kind) -> None:
    first, second = _deliver(kind, DELIVERIES[3]), _deliver(kind, DELIVERIES[4])
    assert first != second and plain_masks(first.decode()) != plain_masks(second.decode())  # spacing, quoting too
    if kind == "csv":
        assert [[plain_masks(v) for v in row] for row in _read_csv(first)] == _table()
        assert _read_csv(first) != _read_csv(second)  # the values themselves carry the fingerprint
    else:
        assert [json.loads(plain_masks(json.dumps(r, ensure_ascii=False))) for r in _read_jsonl(first)] == _records()


def test_only_mask_characters_of_masked_columns_change_and_both_glyphs_are_used() -> None:
    delivered = _read_csv(_deliver("csv", DELIVERIES[3]))
    for row, masked in zip(delivered[1:], _table()[1:], strict=True):
        for name, value, expected in zip(HEADER, row, masked, strict=True):
            assert value == expected if name not in MASKED else plain_masks(value) == expected
    glyphs = "".join(v for row in delivered for v in row)
    assert glyphs.count("*") > 1000 and glyphs.count(WIDE_MASK) > 1000


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_delivery_written_twice_is_the_same_bytes(kind: Kind) -> None:
    assert _deliver(kind, DELIVERIES[2]) == _deliver(kind, DELIVERIES[2])


def test_receipt_hash_and_counts_describe_exactly_the_bytes_written() -> None:
    out = io.BytesIO()
    stats = fingerprint_csv(_table(), out, KEY, DELIVERIES[0], masked=MASKED)
    assert stats.sha256 == content_hash(io.BytesIO(out.getvalue())) == hashlib.sha256(out.getvalue()).digest()
    assert (stats.rows, stats.size) == (301, len(out.getvalue()))
    assert stats.bits == sum(len(m.bits) for m in extract_marks(io.BytesIO(out.getvalue()), "csv"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_delivery_in_gbk_is_gbk_text_with_the_same_values(kind: Kind) -> None:
    utf8, gbk = _deliver(kind, DELIVERIES[1]), _deliver(kind, DELIVERIES[1], encoding="gbk")
    assert gbk.decode("gbk") == utf8.decode("utf-8") and gbk != utf8


@pytest.mark.parametrize(
    ("deliver", "field"),
    [
        (lambda: fingerprint_csv([["a"]], io.BytesIO(), b"short", DELIVERIES[0]), "key"),
        (lambda: fingerprint_csv([["a"]], io.BytesIO(), KEY, b"\x01" * 20), "delivery_id"),
        (lambda: fingerprint_csv([["a"], []], io.BytesIO(), KEY, DELIVERIES[0]), "rows"),
        (lambda: fingerprint_csv([["a\ud800"]], io.BytesIO(), KEY, DELIVERIES[0]), "rows"),
        (lambda: fingerprint_csv([["😀"]], io.BytesIO(), KEY, DELIVERIES[0], encoding="gbk"), "rows"),
        (lambda: fingerprint_jsonl([{1: "a"}], io.BytesIO(), KEY, DELIVERIES[0]), "records"),  # type: ignore[dict-item]
    ],
)
def test_a_delivery_refuses_input_it_cannot_fingerprint_faithfully(deliver: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        deliver()
    assert raised.value.field == field


# ---------------------------------------------------------------- what ordinary handling does to a CSV copy


def _shuffled(copy: bytes) -> bytes:
    lines = copy.decode().splitlines(keepends=True)
    random.Random(1).shuffle(lines)
    return "".join(lines).encode()


def _excerpt(copy: bytes) -> bytes:
    """30% of the rows, picked at random, in a new order, without the header."""
    lines = copy.decode().splitlines(keepends=True)[1:]
    return "".join(random.Random(2).sample(lines, len(lines) * 3 // 10)).encode()


def _spreadsheet(copy: bytes) -> bytes:
    """What a spreadsheet on a Chinese desktop writes back: values trimmed, quotes only where
    needed, CRLF, GBK."""
    rows = [[v.strip() for v in row] for row in _read_csv(copy)]
    return _write_csv(rows, lineterminator="\r\n").encode("gbk")


HANDLING: dict[str, Callable[[bytes], bytes]] = {
    "as delivered": lambda c: c,
    "LF line endings": lambda c: c.replace(b"\r\n", b"\n"),
    "CR line endings": lambda c: c.replace(b"\r\n", b"\r"),
    "CRLF written over CRLF": lambda c: c.replace(b"\n", b"\r\n"),
    "re-quoted by csv, QUOTE_ALL": lambda c: _write_csv(_read_csv(c), quoting=csv.QUOTE_ALL).encode(),
    "re-quoted by csv, QUOTE_MINIMAL": lambda c: _write_csv(_read_csv(c), lineterminator="\n").encode(),
    "shuffled rows": _shuffled,
    "a 30% excerpt": _excerpt,
    "30% of its bytes from the middle": lambda c: c[len(c) // 3 + 1: len(c) * 19 // 30],
    "re-encoded in GBK": lambda c: c.decode().encode("gbk"),
    "GB18030 with a BOM": lambda c: "\ufeff".encode("gb18030") + c.decode().encode("gb18030"),
    "UTF-8 with a BOM": lambda c: b"\xef\xbb\xbf" + c,
    "re-encoded in UTF-16": lambda c: c.decode().encode("utf-16"),
    "re-saved by a spreadsheet": _spreadsheet,
    "re-saved, then excerpted and shuffled": lambda c: _excerpt(_spreadsheet(c).decode("gbk").encode()),
}


@pytest.mark.parametrize("handling", HANDLING)
def test_a_csv_copy_handled_in_ordinary_ways_names_its_delivery(handling: str) -> None:
    delivered = _deliver("csv", DELIVERIES[5])
    found = _attribute(HANDLING[handling](delivered), "csv")
    assert found.confident and found.delivery_id == DELIVERIES[5], found.reason
    assert found.reason is None and found.beyond_chance == (DELIVERIES[5],)
    assert found.bits >= MIN_BITS and found.p_value * 20 < 1e-6
    # A record cut at either end of a copy is noise: a fragment's values are not the row's.
    assert found.matching == found.bits if "bytes" not in handling else found.score > 0.98
    assert found.runner_up_score is not None and found.runner_up_score < 0.6


def test_a_gbk_copy_that_is_mostly_mask_glyphs_and_digits_is_read_as_gbk() -> None:
    # Detectors find such bytes as clean in ISO 8859-16: GB18030 is tried before detection.
    table = [["name", "id", "phone"]] + [[mask_value(FieldClass.NAME, f"张{i}"), mask_value(FieldClass.ID_NUMBER, f"11010119900101{i:04d}"),
                                          mask_value(FieldClass.MOBILE, f"1380000{i:04d}")] for i in range(100)]
    for delivery in DELIVERIES[:8]:
        out = io.BytesIO()
        fingerprint_csv(table, out, KEY, delivery, masked=["name", "id", "phone"], encoding="gbk")
        found = _attribute(out.getvalue(), "csv")
        assert found.confident and found.delivery_id == delivery and found.matching == found.bits


def test_each_copy_is_attributed_to_its_own_delivery_among_twenty() -> None:
    for delivery in (DELIVERIES[0], DELIVERIES[11], DELIVERIES[19]):
        found = _attribute(_excerpt(_deliver("csv", delivery)), "csv")
        assert found.confident and found.delivery_id == delivery


# ---------------------------------------------------------------- JSON lines


JSON_HANDLING: dict[str, Callable[[list[dict[str, object]]], str]] = {
    "json.dumps defaults": lambda rs: "".join(json.dumps(r) + "\n" for r in rs),
    "keys sorted, CRLF": lambda rs: "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\r\n" for r in rs),
    "a shuffled 30% excerpt": lambda rs: "".join(
        json.dumps(r, ensure_ascii=False, indent=None) + "\n" for r in random.Random(3).sample(rs, len(rs) * 3 // 10)),
}


@pytest.mark.parametrize("handling", JSON_HANDLING)
def test_a_json_lines_copy_re_serialised_names_its_delivery(handling: str) -> None:
    copy = JSON_HANDLING[handling](_read_jsonl(_deliver("jsonl", DELIVERIES[6]))).encode()
    found = _attribute(copy, "jsonl")
    assert found.confident and found.delivery_id == DELIVERIES[6] and found.matching == found.bits


def test_a_json_lines_copy_in_gbk_with_its_spacing_kept_reads_both_carriers() -> None:
    delivered = _deliver("jsonl", DELIVERIES[7])
    whole = _attribute(delivered, "jsonl")
    assert whole.confident and whole.delivery_id == DELIVERIES[7]
    assert _attribute(delivered.decode().encode("gbk"), "jsonl").bits == whole.bits
    respaced = _attribute("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                  for r in _read_jsonl(delivered)).encode(), "jsonl")
    assert respaced.confident and respaced.bits < whole.bits  # the spacing is set aside, not counted against


# ---------------------------------------------------------------- copies that name no one


def _without_masked_columns(copy: bytes) -> list[list[str]]:
    return [[v for name, v in zip(HEADER, row, strict=True) if name not in MASKED] for row in _read_csv(copy)]


def test_three_rows_without_their_masked_columns_name_no_one_and_say_how_many_bits_they_carry() -> None:
    delivered = _deliver("csv", DELIVERIES[9])
    kept = b"".join(c.encode() + b"\r\n" for c in _write_csv(_without_masked_columns(delivered)).splitlines()[1:4])
    found = _attribute(kept, "csv")
    _names_no_one(found)
    assert found.bits < MIN_BITS and found.beyond_chance == ()
    assert found.reason == f"the copy carries {found.bits} readable fingerprint bits; {MIN_BITS} are needed"


def test_three_whole_rows_carry_enough_mask_glyphs_to_name_their_delivery() -> None:
    found = _attribute(b"".join(_deliver("csv", DELIVERIES[9]).splitlines(keepends=True)[1:4]), "csv")
    assert found.confident and found.delivery_id == DELIVERIES[9] and found.rows == 3


def test_a_copy_with_its_masked_columns_removed_and_re_quoted_names_no_one() -> None:
    found = _attribute(_write_csv(_without_masked_columns(_deliver("csv", DELIVERIES[10]))).encode(), "csv")
    _names_no_one(found)
    assert found.bits == 0 and found.reason == f"the copy carries 0 readable fingerprint bits; {MIN_BITS} are needed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_from_another_node_names_no_delivery_of_this_one(kind: Kind) -> None:
    found = _attribute(_deliver(kind, DELIVERIES[11], key=OTHER_KEY), kind)
    _names_no_one(found)
    assert found.bits > 1000 and found.score < 0.6 and "which chance explains" in (found.reason or "")


def test_a_copy_mixed_from_two_deliveries_names_neither_but_lists_both() -> None:
    first = _deliver("csv", DELIVERIES[12]).splitlines(keepends=True)
    second = _deliver("csv", DELIVERIES[13]).splitlines(keepends=True)
    found = _attribute(b"".join(first[:150] + second[150:]), "csv")
    _names_no_one(found)
    assert set(found.beyond_chance) == {DELIVERIES[12], DELIVERIES[13]} and "mixed" in (found.reason or "")


# ---------------------------------------------------------------- round trips

_cell = st.text(st.characters(blacklist_categories=["Cs"]) | st.sampled_from(['"', ",", "\n", "\r", " ", "*"]),
                max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _cell,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_cell, inner, max_size=3),
    max_leaves=8,
)


def _encoding_bits(copy: bytes, kind: Kind) -> int:
    return sum(b.carrier == ENCODING for m in extract_marks(io.BytesIO(copy), kind) for b in m.bits)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(_cell, min_size=1, max_size=6), min_size=1, max_size=12))
def test_csv_values_round_trip_and_every_encoding_bit_reads_back(rows: list[list[str]]) -> None:
    out = io.BytesIO()
    stats = fingerprint_csv(rows, out, KEY, DELIVERIES[0])
    assert _read_csv(out.getvalue()) == rows
    assert _encoding_bits(out.getvalue(), "csv") == stats.bits


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(_cell, min_size=2, max_size=4), min_size=2, max_size=12))
def test_csv_masked_values_round_trip_up_to_their_glyphs(rows: list[list[str]]) -> None:
    out = io.BytesIO()
    header = [f"c{i}" for i in range(len(rows[0]))]
    body = [(row * 4)[: len(header)] for row in rows]
    fingerprint_csv([header, *body], out, KEY, DELIVERIES[0], masked=["c1"])
    read = _read_csv(out.getvalue())
    assert [[plain_masks(v) for v in row] for row in read] == [header, *[[plain_masks(v) for v in r] for r in body]]
    assert all(r[:1] + r[2:] == b[:1] + b[2:] for r, b in zip(read[1:], body, strict=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(_cell, _json, max_size=5), min_size=1, max_size=12))
def test_json_values_round_trip_and_every_encoding_bit_reads_back(records: list[dict[str, object]]) -> None:
    out = io.BytesIO()
    stats = fingerprint_jsonl(records, out, KEY, DELIVERIES[0])
    assert _read_jsonl(out.getvalue()) == records
    assert _encoding_bits(out.getvalue(), "jsonl") == stats.bits
