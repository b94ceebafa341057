"""Masking by field class: single values, CSV and JSON lines streamed row by row, grant scopes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.access.delivery.masking import MaskPlan, mask_csv, mask_jsonl
from node.errors import InvalidInput
from node.fields import FieldClass, mask_value

C = FieldClass

CASES = [
    (C.ID_NUMBER, "110101199003071234", "110101********1234"),
    (C.ID_NUMBER, "11010119900307123X", "110101********123X"),
    (C.ID_NUMBER, "110101900307123", "110101******123"),
    (C.ID_NUMBER, "110101 19900307 1234", "110101 ******** 1234"),
    (C.ID_NUMBER, "1101011990", "**********"),
    (C.ID_NUMBER, "11010119900307123A", "******************"),
    (C.ID_NUMBER, "１１０１０１１９９００３０７１２３４", "******************"),
    (C.ID_NUMBER, "", ""),
    (C.MOBILE, "13800138000", "138****8000"),
    (C.MOBILE, "138-0013-8000", "138-****-8000"),
    (C.MOBILE, "12800138000", "***********"),
    (C.MOBILE, "1380013800", "**********"),
    (C.MOBILE, "+8613800138000", "**************"),
    (C.MOBILE, "", ""),
    (C.NAME, "张三", "张*"),
    (C.NAME, "李小龙", "李**"),
    (C.NAME, "欧阳娜娜", "欧阳**"),  # a compound surname (复姓) is kept whole, as a single one is
    (C.NAME, "司马筠菊", "司马**"),
    (C.NAME, "歐陽娜娜", "歐陽**"),
    (C.NAME, "欧阳", "欧*"),  # a compound surname alone: one character, as any two-character name
    (C.NAME, "司马 光", "司* *"),  # apart, it is two words
    (C.NAME, "阿沛·阿旺晋美", "阿******"),
    (C.NAME, "Li Lei", "L* L**"),
    (C.NAME, "  Li   Lei ", "L* L**"),
    (C.NAME, "Mary A Smith", "M*** * S****"),
    (C.NAME, "张", "*"),
    (C.NAME, "", ""),
    (C.ADDRESS, "北京市朝阳区建国路88号", "北京市朝阳区******"),
    (C.ADDRESS, "海淀区中关村", "海淀区***"),
    (C.ADDRESS, "朝阳区", "朝**"),
    (C.ADDRESS, "X", "*"),
    (C.ADDRESS, "", ""),
    (C.EMAIL, "lilei@example.com", "l****@example.com"),
    (C.EMAIL, "张三@例子.中国", "张*@例子.中国"),
    (C.EMAIL, "a@b.cn", "*@b.cn"),
    (C.EMAIL, "not-an-email", "************"),
    (C.EMAIL, "a@@b.com", "********"),
    (C.EMAIL, "@example.com", "************"),
    (C.EMAIL, "lilei@localhost", "***************"),
    (C.EMAIL, "", ""),
    (C.BANK_CARD, "6222021234567890123", "622202*********0123"),
    (C.BANK_CARD, "6222 0212 3456 7890", "6222 02** **** 7890"),
    (C.BANK_CARD, "622202123456", "************"),
    (C.BANK_CARD, "62220212345678901234", "********************"),
    (C.BANK_CARD, "", ""),
    (C.PLAIN, "110101199003071234", "110101199003071234"),
    (C.PLAIN, "", ""),
]


@pytest.mark.parametrize(("cls", "value", "masked"), CASES)
def test_each_class_keeps_only_its_visible_parts(cls: FieldClass, value: str, masked: str) -> None:
    assert mask_value(cls, value) == masked


@given(st.sampled_from([c for c in FieldClass if c is not C.NAME]), st.text())
def test_a_mask_only_hides_characters_in_place(cls: FieldClass, value: str) -> None:
    masked = mask_value(cls, value)
    assert len(masked) == len(value)
    assert all(m in (v, "*") for m, v in zip(masked, value))


@given(st.text())
def test_a_name_mask_keeps_at_most_the_initial_of_each_word(value: str) -> None:
    words = mask_value(C.NAME, value).split(" ") if value.split() else []
    assert len(words) == len(value.split())
    for word, original in zip(words, value.split()):
        assert len(word) == len(original)
        assert word[1:] == "*" * (len(word) - 1)


@pytest.mark.parametrize(("cls", "head", "tail"), [(C.ID_NUMBER, 6, 4), (C.MOBILE, 3, 4), (C.BANK_CARD, 6, 4)])
@given(value=st.text(alphabet="0123456789 -Xx", max_size=30))
def test_a_number_keeps_its_ends_or_nothing(cls: FieldClass, head: int, tail: int, value: str) -> None:
    symbols = value.replace(" ", "").replace("-", "")
    if cls is C.ID_NUMBER and len(symbols) == 15:
        tail = 3
    kept = "".join(c for c in mask_value(cls, value) if c not in " -*")
    assert kept in ("", symbols[:head] + symbols[len(symbols) - tail :])


# ---------------------------------------------------------------- CSV

PEOPLE = MaskPlan({"name": C.NAME, "id": C.ID_NUMBER, "mobile": C.MOBILE, "note": C.PLAIN})


def _csv(data: bytes, plan: MaskPlan = PEOPLE) -> tuple[bytes, list[list[str]]]:
    out = io.BytesIO()
    mask_csv(io.BytesIO(data), out, plan)
    return out.getvalue(), list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))


def test_csv_keeps_the_header_and_masks_classed_cells() -> None:
    data = "name,id,mobile,note\r\n张三,110101199003071234,13800138000,ok\r\n".encode()
    raw, rows = _csv(data)
    assert rows == [["name", "id", "mobile", "note"], ["张*", "110101********1234", "138****8000", "ok"]]
    assert b"\r" not in raw


def test_csv_quoted_commas_and_newlines_stay_inside_their_cell() -> None:
    data = 'name,note,id\n"Li, Lei","line one\nline two, with comma","110101199003071234"\n'.encode()
    _, rows = _csv(data)
    assert rows[1] == ["L** L**", "line one\nline two, with comma", "110101********1234"]


def test_csv_fields_in_the_grant_scope_stay_clear() -> None:
    plan = MaskPlan(PEOPLE.fields, allowed={"mobile"})
    _, rows = _csv(b"name,mobile\nLi Lei,13800138000\n", plan)
    assert rows[1] == ["L* L**", "13800138000"]


def test_plain_and_unclassed_fields_are_never_masked() -> None:
    plan = MaskPlan({"note": C.PLAIN, "id": C.ID_NUMBER})
    _, rows = _csv(b"note,other,id\n110101199003071234,110101199003071234,110101199003071234\n", plan)
    assert rows[1] == ["110101199003071234", "110101199003071234", "110101********1234"]


def test_csv_stats_count_records_and_non_empty_masked_cells() -> None:
    out = io.BytesIO()
    stats = mask_csv(io.BytesIO(b"name,id,note\nLi,,x\nWang,110101199003071234,y\n\n"), out, PEOPLE)
    assert stats.rows == 2
    assert stats.masked == {"name": 2, "id": 1}


def test_csv_header_names_match_despite_a_byte_order_mark_and_spaces() -> None:
    _, rows = _csv("\ufeffname , id\nLi Lei,110101199003071234\n".encode())
    assert rows == [["name ", " id"], ["L* L**", "110101********1234"]]


def test_csv_chunks_cut_anywhere_give_the_same_output() -> None:
    data = 'name,note\n"张三","a\nb"\n李小龙,c\n'.encode()
    whole, _ = _csv(data)
    for size in (1, 2, 3, 5):
        out = io.BytesIO()
        mask_csv((data[i : i + size] for i in range(0, len(data), size)), out, PEOPLE)
        assert out.getvalue() == whole


def test_csv_without_a_final_newline_keeps_its_last_record() -> None:
    _, rows = _csv(b"name\nLi Lei")
    assert rows == [["name"], ["L* L**"]]


def test_empty_csv_gives_empty_output() -> None:
    assert _csv(b"") == (b"", [])


def test_csv_record_with_a_different_cell_count_is_refused() -> None:
    with pytest.raises(InvalidInput, match="record 2 has 3 cells"):
        _csv(b"name,id\nLi,1\nWang,2,3\n")


def test_csv_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8 text"):
        _csv("name\n张三\n".encode("gbk"))


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_csv_and_jsonl_are_read_in_their_encoding(encoding: str) -> None:
    plan = MaskPlan({"姓名": C.NAME, "手机号": C.MOBILE})
    out = io.BytesIO()
    mask_csv(io.BytesIO("姓名,手机号,住址\n司马筠菊,13800138000,北京市海淀区\n".encode(encoding)), out, plan,
             encoding=encoding)
    assert out.getvalue().decode() == "姓名,手机号,住址\n司马**,138****8000,北京市海淀区\n"
    out = io.BytesIO()
    mask_jsonl(io.BytesIO('{"姓名":"张三丰","住址":"北京"}\n'.encode(encoding)), out, plan, encoding=encoding)
    assert out.getvalue().decode() == '{"姓名":"张**","住址":"北京"}\n'


def test_a_large_csv_streams_without_reading_ahead() -> None:
    rows = 200_000
    written = [0]
    produced = [0]

    class Sink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            written[0] += data.count(b"\n")
            return len(data)

    def lines() -> Iterator[bytes]:
        yield b"name,id,mobile,note\n"
        for i in range(rows):
            # Each record must be written soon after it is read: nothing piles up in between.
            assert produced[0] - written[0] < 10
            produced[0] += 1
            yield f"Person {i},110101199003071234,13800138000,row {i}\n".encode()

    stats = mask_csv(lines(), Sink(), PEOPLE)  # type: ignore[arg-type]
    assert stats.rows == rows
    assert stats.masked == {"name": rows, "id": rows, "mobile": rows}
    assert written[0] == rows + 1


# ---------------------------------------------------------------- JSON lines


def _jsonl(data: bytes, plan: MaskPlan = PEOPLE) -> list[str]:
    out = io.BytesIO()
    mask_jsonl(io.BytesIO(data), out, plan)
    return out.getvalue().decode().splitlines()


def test_jsonl_masks_top_level_strings_and_keeps_key_order_and_text() -> None:
    record = {"note": "备注", "mobile": "13800138000", "name": "张三", "nested": {"name": "李四"}}
    lines = _jsonl(json.dumps(record).encode() + b"\n")
    assert lines == ['{"note":"备注","mobile":"138****8000","name":"张*","nested":{"name":"李四"}}']


def test_jsonl_numbers_in_classed_fields_do_not_slip_through() -> None:
    lines = _jsonl(b'{"mobile": 13800138000, "id": null, "name": ""}\n')
    assert json.loads(lines[0]) == {"mobile": "138****8000", "id": None, "name": ""}


def test_jsonl_fields_in_the_grant_scope_stay_clear_and_blank_lines_go() -> None:
    plan = MaskPlan(PEOPLE.fields, allowed={"name"})
    out = io.BytesIO()
    stats = mask_jsonl(io.BytesIO(b'{"name":"Li Lei","id":"110101199003071234"}\n\n{"name":"Wang"}'), out, plan)
    assert out.getvalue().decode().splitlines() == [
        '{"name":"Li Lei","id":"110101********1234"}',
        '{"name":"Wang"}',
    ]
    assert stats.rows == 2
    assert stats.masked == {"id": 1}


@pytest.mark.parametrize(("line", "reason"), [(b"[1, 2]\n", "not a JSON object"), (b'{"name": \n', "line 1")])
def test_jsonl_lines_that_are_not_objects_are_refused(line: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        _jsonl(line)


# ---------------------------------------------------------------- grant fields, by name


def test_a_plan_masks_every_classed_field_the_grant_does_not_name() -> None:
    plan = MaskPlan({"name": C.NAME, "id": C.ID_NUMBER, "mobile": C.MOBILE}, {"id", "visits"})
    assert plan.masked() == {"name": C.NAME, "mobile": C.MOBILE}


def test_a_plan_reads_fields_by_name_whatever_the_column_order() -> None:
    plan = MaskPlan({"id": C.ID_NUMBER}, set())
    for header in (["id", "name"], ["name", "id"]):
        out = io.BytesIO()
        mask_csv([(",".join(header) + "\n" + ("110101199003071234,a\n" if header[0] == "id" else "a,110101199003071234\n")).encode()], out, plan)
        assert b"110101199003071234" not in out.getvalue()
