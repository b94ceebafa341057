"""JSON lines are read by scanning whole runs of lines with :mod:`json`'s own scanner: the same
records, and the same refusals word for word, as parsing each line with ``json.loads``."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from node.access.delivery.masking import json_records
from node.errors import InvalidInput


def per_line_records(src: Iterable[bytes], encoding: str = "utf-8") -> Iterator[dict[str, Any]]:
    """The reader as it was: the text split into lines, each given to ``json.loads``."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding.startswith("utf-8") else encoding)()
    try:
        text = "".join(decoder.decode(chunk) for chunk in src) + decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise InvalidInput("jsonl", f"not {encoding.upper()} text: {err.reason}") from err
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    for number, line in enumerate(lines if lines[-1] else lines[:-1], 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            refusal = None if isinstance(record, dict) else f"line {number} is not a JSON object"
        except json.JSONDecodeError as err:
            refusal = f"line {number}: {err.msg}"
        if refusal is not None:
            raise InvalidInput("jsonl", refusal)
        yield record


GOOD = ('{"编码":"0101","区县":"朝阳区","人数":3}\n'
        '\n  \t\r\n\u3000\n'
        '  {"a": 1, "a": 2, "b": [1, {"c": null}], "d": -1.5e3, "e": NaN, "f": Infinity}  \r\n'
        '{"长":"' + "字" * 5000 + '", "esc": "\\n\\"\\u4e2d\\ud83d\\ude00"}\n'
        '{}\n'
        '{"big": 123456789012345678901234567890, "t": true, "f": false}')
BAD = [
    '{"a": 1}\n{"a":\n 2}\n',           # a record over two lines
    '{"a": 1}\n{"a": 1}, {"b": 2}\n',   # two on one line
    '{"a": 1}\n[1, 2]\n',               # no object
    '{"a": 1}\n"text"\n',
    '{"a": 1}\n\ufeff{"a": 1}\n',       # a byte order mark inside
    '{"a": 1}\n\u3000{"a": 1}\n',       # ideographic space before
    '{"a": 1}\n{"a": 1}\u3000\n',
    '{"a": 1}\n{"a": tru}\n',
    '{"a": "tab\there"}\n',             # a raw control character
    '{"a": 1}\n{"a": 1',                # cut short
    '{"a": 1}\n{"a": [1\n2]}\n{"x": 1},{"y": 2}\n',
]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def _read(reader: Any, chunks: list[bytes], encoding: str) -> tuple[list[dict[str, Any]], str | None]:
    records: list[dict[str, Any]] = []
    try:
        for record in reader(iter(chunks), encoding):
            records.append(record)
    except InvalidInput as err:
        return records, str(err)
    return records, None


@pytest.mark.parametrize("size", [1, 2, 5, 64, 1 << 20])
@pytest.mark.parametrize("text", [GOOD, GOOD + "\n", "", "\n\n", *BAD])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_records_and_refusals_are_those_of_parsing_each_line(text: str, size: int, encoding: str) -> None:
    data = (text.replace("\\ud83d\\ude00", "") if encoding == "gb18030" else text).encode(encoding)
    expected = _read(per_line_records, _chunks(data, size), encoding)
    assert _read(json_records, _chunks(data, size), encoding) == expected
    if expected[1] is None:
        assert [list(r) for r in expected[0]] == [list(r) for r in _read(json_records, [data], encoding)[0]]


def test_text_that_is_not_the_encoding_is_refused_alike() -> None:
    data = '{"a": "中"}\n'.encode("gbk")
    assert _read(json_records, [data], "utf-8") == _read(per_line_records, [data], "utf-8")
    assert _read(json_records, [data], "utf-8")[1]
