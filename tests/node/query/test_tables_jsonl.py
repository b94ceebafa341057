"""JSON lines load into DuckDB streamed, in constant Python memory, as the very table they loaded
as when the whole version was first converted to CSV in memory (the reference below)."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from node.query.tables import execute, loaded
from node.store import DataStore
from tests.node.access.delivery.test_json_records import per_line_records

TRICKY = [
    '{"编码":"0101","区县":"朝阳区","人数":3,"金额":12.5,"备注":null,"嵌套":{"键":[1,"中"],"b":true}}',
    '',
    '{"区县":"海淀区","编码":"0102","金额":"7","备注":"有,逗号 \\"引号\\"","多行":"一\\r\\n二\\n"}',
    '   ',
    '{"编码":"0103","人数":"5","金额":-1e2,"大数":123456789012345678901234567890,"真":false,"空":""}',
    '{"A":"1","a":"2","a_1":"3"," 空格 ":" 4 ","":"无名","编码":"0104","编码":"0105","tab":"\\t"}',
    '{"\\ufeff标记":"x","数组":[],"对象":{},"人数":"007","金额":"NaN","零":0,"负零":"-0"}',
    '{"编码":"0106","column3":"撞名","列,逗号":"a","列\\"引号":"b","列\\n换行":"c","NULL":"NULL"}',
]


def reference_table(source: Path, encoding: str, tmp_path: Path) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """The version loaded the way JSON lines loaded before streaming: every record read into a
    list, the union of their keys a CSV header, each value a cell (text as it is, null empty,
    the rest as compact JSON), and that CSV loaded by the unchanged CSV path."""
    records = list(per_line_records(iter([source.read_bytes()]), encoding))
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    for record in records:
        writer.writerow(_cell(record.get(name)) for name in names)
    converted = tmp_path / "reference.csv"
    converted.write_text(text.getvalue(), encoding="utf-8")
    with loaded(converted, kind="csv", encoding="utf-8", content_root=f"reference-{source}") as version:
        return version.types, execute(f'SELECT * FROM "{version.table}"')


def _cell(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(("encoding", "text"), [
    ("utf-8", "\n".join(TRICKY) + "\n"),
    ("utf-8", "\ufeff" + "\r\n".join(TRICKY)),
    ("utf-8-sig", "\n".join(TRICKY)),
    ("gbk", "\n".join(TRICKY) + "\n\n"),
    ("gb18030", "\n".join(TRICKY)),
    ("utf-8", '{}\n{}\n'),
    ("utf-8", "\n\n"),
    ("utf-8", ""),
])
def test_json_lines_load_as_the_table_the_csv_conversion_made(tmp_path: Path, encoding: str, text: str) -> None:
    source = tmp_path / "tricky.jsonl"
    source.write_bytes(text.encode(encoding))
    types, rows = reference_table(source, encoding, tmp_path)
    with loaded(source, kind="jsonl", encoding=encoding, content_root=f"tricky-{source}") as version:
        assert version.types == types
        assert list(version.types) == [row[0] for row in execute(f'DESCRIBE "{version.table}"')]
        assert execute(f'SELECT * FROM "{version.table}"') == rows
        assert version.rows == len(rows)


def test_a_large_json_lines_version_loads_in_little_python_memory(tmp_path: Path) -> None:
    store = DataStore(os.urandom(32))  # 1 MiB frames, as a node keeps its files
    source = tmp_path / "large.jsonl"
    with store.create(source) as out:
        for i in range(300_000):
            out.write(json.dumps({"编码": f"{i:06d}", "区县": "朝阳区" if i % 2 else "海淀区", "人数": i % 97,
                                  "备注": "有,逗号" if i % 5 else None}, ensure_ascii=False).encode() + b"\n")
        size = out.size
    tracemalloc.start()
    try:
        with loaded(source, kind="jsonl", encoding="utf-8", content_root="large-jsonl", store=store) as version:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert version.rows == 300_000
    assert execute(f'SELECT COUNT(DISTINCT "编码"), SUM("人数") FROM "{version.table}"') == \
        [(300_000, sum(i % 97 for i in range(300_000)))]
    # A few of the store's 1 MiB frames in flight, whatever the size (holding the records took 9x
    # the file's size).
    assert size > 20 << 20 and peak < 8 << 20, f"peak {peak:,} bytes of Python memory loading {size:,} bytes"
