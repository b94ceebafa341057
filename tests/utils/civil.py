"""A deterministic civil-affairs table (民政 subsidy roll) for query tests and the query bench:
names, valid ID numbers (GB 11643 check characters), mobiles, addresses, districts, ages and
subsidy amounts, written as CSV or JSON lines in any encoding."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from node.fields import FieldClass, id_check_character

HEADER = ["编号", "姓名", "身份证号", "手机号", "住址", "区县", "年龄", "补助类型", "补助金额"]
CLASSES = {"姓名": FieldClass.NAME, "身份证号": FieldClass.ID_NUMBER, "手机号": FieldClass.MOBILE,
           "住址": FieldClass.ADDRESS, "编号": FieldClass.PLAIN, "区县": FieldClass.PLAIN,
           "年龄": FieldClass.PLAIN, "补助类型": FieldClass.PLAIN, "补助金额": FieldClass.PLAIN}
BOUNDS = {"年龄": (0.0, 120.0), "补助金额": (0.0, 5000.0)}
DISTRICTS = {"朝阳区": "110105", "海淀区": "110108", "东城区": "110101", "西城区": "110102", "丰台区": "110106"}
SMALL_DISTRICT = ("门头沟区", "110109")
"""Every 2,000th row lives here: a group far under any k worth having."""
KINDS = ["最低生活保障", "特困供养", "临时救助", "高龄津贴"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
_ROADS = ["建国路", "中关村大街", "东四十条", "金融街", "丰台北路", "朝阳门外大街"]
YEAR = 2026


def civil_rows(count: int, seed: int = 19) -> list[list[str]]:
    """``count`` rows of the subsidy roll (as text, in :data:`HEADER`'s order), the same for a seed."""
    rng = random.Random(seed)
    names = list(DISTRICTS.items())
    rows = []
    for i in range(count):
        district, region = SMALL_DISTRICT if i % 2000 == 7 else names[min(int(rng.paretovariate(1.2)) - 1, 4)]
        age = rng.randrange(0, 101)
        birth = f"{YEAR - age}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        body = f"{region}{birth}{rng.randrange(1000):03d}"
        rows.append([f"MZ{i:07d}", rng.choice(_SURNAMES) + rng.choice(_GIVEN), body + id_check_character(body),
                     f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                     f"北京市{district}{rng.choice(_ROADS)}{rng.randrange(1, 300)}号", district, str(age),
                     rng.choice(KINDS), f"{rng.uniform(200, 3000):.2f}"])
    return rows


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """The rows as CSV with :data:`HEADER`, in ``encoding``."""
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\n").writerows([HEADER, *rows])
    return text.getvalue().encode(encoding)


def jsonl_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """The rows as JSON lines (ages and amounts as numbers), in ``encoding``."""
    lines = []
    for row in rows:
        record: dict[str, object] = dict(zip(HEADER, row, strict=True))
        record["年龄"], record["补助金额"] = int(row[6]), float(row[8])
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines).encode(encoding)


def write_table(path: Path, rows: list[list[str]], *, kind: str, encoding: str = "utf-8") -> Path:
    """``rows`` written to ``path`` as ``kind`` (``csv`` or ``jsonl``) in ``encoding``."""
    path.write_bytes(csv_bytes(rows, encoding) if kind == "csv" else jsonl_bytes(rows, encoding))
    return path
