"""Versions loaded into DuckDB: the same table from CSV and JSON lines in any encoding, numbers
only where every value is one, and a bounded set of versions kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.errors import InvalidInput
from node.query import tables
from node.query.tables import execute, loaded

CSV = "编码,区县,人数,金额,备注\n0101,朝阳区,3,12.5,\n0102,海淀区,,7,\"有,逗号\"\n0103,\"东城\n区\",5,-1e2,无\n"
RECORDS = [{"编码": "0101", "区县": "朝阳区", "人数": 3, "金额": 12.5, "备注": None},
           {"编码": "0102", "区县": "海淀区", "人数": None, "金额": 7, "备注": "有,逗号"},
           {"编码": "0103", "区县": "东城\n区", "人数": 5, "金额": -100.0, "备注": "无"}]
EXPECTED = [("0101", "朝阳区", 3, 12.5, None), ("0102", "海淀区", None, 7.0, "有,逗号"), ("0103", "东城\n区", 5, -100.0, "无")]


@pytest.mark.parametrize(("kind", "encoding"), [("csv", "utf-8"), ("csv", "gbk"), ("csv", "utf-8-sig"),
                                                ("jsonl", "utf-8"), ("jsonl", "gb18030")])
def test_csv_and_json_lines_load_as_the_same_typed_table(tmp_path: Path, kind: str, encoding: str) -> None:
    text = CSV if kind == "csv" else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    source = tmp_path / f"v.{kind}"
    source.write_bytes(text.encode(encoding))
    with loaded(source, kind=kind, encoding=encoding, content_root=f"t-{kind}-{encoding}") as version:  # type: ignore[arg-type]
        assert version.rows == 3
        assert version.types == {"编码": "VARCHAR", "区县": "VARCHAR", "人数": "BIGINT", "金额": "DOUBLE",
                                 "备注": "VARCHAR"}
        assert execute(f'SELECT * FROM "{version.table}" ORDER BY "编码"') == EXPECTED


def test_a_version_that_is_no_table_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(InvalidInput, match="line 2 is not a JSON object"), \
            loaded(source, kind="jsonl", encoding="utf-8", content_root="bad-jsonl"):
        pass


def test_only_a_few_versions_stay_loaded_and_none_in_use_is_dropped(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "LOADED_VERSIONS", 2)
    source = tmp_path / "v.csv"
    source.write_text(CSV)
    with loaded(source, kind="csv", encoding="utf-8", content_root="lru-held") as held:
        for n in range(4):
            with loaded(source, kind="csv", encoding="utf-8", content_root=f"lru-{n}"):
                pass
        assert "lru-held" in tables._STORE.versions and "lru-0" not in tables._STORE.versions
        assert execute(f'SELECT COUNT(*) FROM "{held.table}"') == [(3,)]
    assert len(tables._STORE.versions) <= 2
