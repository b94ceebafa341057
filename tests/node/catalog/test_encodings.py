"""Text encodings at registration and delivery: UTF-8, UTF-8 with a byte order mark, GBK and
GB18030 files with Chinese headers register with their Chinese schema, their field classes take
effect, their content root stays over the original bytes, and deliveries in the source encoding
and in UTF-8 both decode with the Chinese text intact. Files that cannot be read, and field
classes naming no column, are refused at registration with nothing recorded."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.hashing import content_root
from node.access import review
from node.access.delivery.serve import Request, deliver
from node.catalog.register import register_dataset, register_version
from node.catalog.texts import schema_text, text_hash
from node.formats import FORMATS, TextCheck
from node.errors import InvalidInput
from node.access.delivery.fingerprint import plain_masks
from node.models import DatasetVersion, OutboxEntry
from node.quality.loop import check_version, set_rules
from node.service import NodeService
from tests.node.access.test_review_delivery import _request
from tests.utils.ledgers import Suite

HEADER = ["姓名", "身份证号", "手机号", "住址"]
PEOPLE = [
    ["司马筠菊", "110101199003074573", "13800138000", "北京市海淀区中关村大街1号"],
    ["张三", "11010519491231002X", "13900139000", "上海市浦东新区世纪大道100号"],
    ["欧阳娜娜", "440305199912310011", "13700137000", "广东省深圳市南山区科技园𠀀路"],  # 𠀀: GB18030 only
]
MASKED = [
    ["司马**", "110101********4573", "138****8000"],
    ["张*", "110105********002X", "139****9000"],
    ["欧阳**", "440305********0011", "137****7000"],
]
CLASSES = {"姓名": "name", "身份证号": "id_number", "手机号": "mobile"}
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


def _text(kind: str, encoding: str) -> str:
    people = PEOPLE if encoding != "gbk" else [row[:3] + [row[3].replace("𠀀", "一")] for row in PEOPLE]
    if kind == "csv":
        return "\n".join(",".join(row) for row in [HEADER, *people]) + "\n"
    return "".join(json.dumps(dict(zip(HEADER, row)), ensure_ascii=False) + "\n" for row in people)


def _records(kind: str, text: str) -> list[list[str]]:
    if kind == "csv":
        return list(csv.reader(io.StringIO(text)))
    return [list(HEADER)] + [[json.loads(line)[name] for name in HEADER] for line in text.splitlines()]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_each_encoding_registers_in_chinese_and_delivers_in_both(kind: str, service: NodeService, suite: Suite,
                                                                 tmp_path: Path, database_url: str) -> None:
    tag = f"{database_url.split(':', 1)[0]}-{kind}"
    department = service.settings.department_id
    datasets: dict[str, tuple[str, Path]] = {}
    with service.sessions() as session:
        for encoding in ENCODINGS:
            path = tmp_path / f"{encoding}.{kind}"
            path.write_bytes(_text(kind, encoding).encode(encoding))
            dataset = register_dataset(session, department=department, code=f"enc-{tag}-{encoding}", name=encoding,
                                       category="civil", grade=2, update_interval=0, field_classes=CLASSES,
                                       key_fields=["身份证号"])
            version = register_version(session, dataset_id=dataset.dataset_id, path=path)  # detected
            assert version.encoding == encoding
            assert version.schema == (HEADER if kind == "csv" else sorted(HEADER))
            # the schema anchored is the fields as read, in the encoding found
            assert version.schema_hash == text_hash(schema_text(
                fields=version.schema, tabular=FORMATS[kind], size_bytes=version.size_bytes,
                record_count=version.record_count, encoding=encoding))
            assert version.content_root == "0x" + content_root(path).root.hex()  # over the bytes as they are
            assert version.record_count == 3
            datasets[encoding] = (dataset.dataset_id, path)
        session.commit()
        # The quality loop reads the version in its encoding: every ID number and phone is valid.
        gbk = session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == datasets["gbk"][0]))
        assert gbk is not None
        set_rules(session, datasets["gbk"][0], [{"kind": "validity", "fields": ["身份证号", "手机号"]},
                                                {"kind": "completeness", "fields": HEADER}])
        report = check_version(session, gbk.id)
        assert report.passed, report.report
        assert [r["checked"] for r in report.report["results"]] == [6, 3]
        session.commit()
    service.settle()

    consumer = suite.consumers[0]
    grants = {encoding: _request(consumer, dataset_id, f"{tag} {encoding}") for encoding, (dataset_id, _) in datasets.items()}
    service.indexer.catch_up()  # a request is decided with its purpose in view
    with service.sessions() as session:
        for grant in grants.values():
            review.approve(session, service.ledger, department, grant)
        session.commit()
    service.settle()
    assert consumer.sender is not None
    for encoding, grant in grants.items():
        for asked in ("source", "utf-8"):
            with service.sessions() as session:
                row = deliver(session, service.ledger, department=department, key=service.fingerprint_key,
                              out_dir=service.deliveries_dir,
                              request=Request(grant, consumer.sender.address, encoding=asked))  # type: ignore[arg-type]
                written = "utf-8" if asked == "utf-8" else encoding
                assert row.encoding == written
            raw = Path(row.path).read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf") == (written == "utf-8-sig")
            if written in ("gbk", "gb18030"):
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
            records = _records(kind, plain_masks(raw.decode(written)).lstrip("\ufeff"))
            source = _records(kind, _text(kind, encoding))
            assert records[0] == HEADER
            assert [r[:3] for r in records[1:]] == MASKED, (encoding, asked)
            assert [r[3] for r in records[1:]] == [r[3] for r in source[1:]]  # 住址, unclassed, intact


def _nothing_recorded(service: NodeService, dataset_id: str) -> None:
    with service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DatasetVersion)
                              .where(DatasetVersion.dataset_id == dataset_id)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEntry)
                              .where(OutboxEntry.key.like(f"version:{dataset_id}:%"))) == 0


def test_files_that_cannot_be_read_and_classes_naming_no_column_are_refused(service: NodeService,
                                                                             tmp_path: Path) -> None:
    text = _text("csv", "gbk")
    files = {
        "random": bytes(range(256)) * 8,
        # A UTF-8 file with one GBK line in it: neither encoding reads the whole file.
        "mixed": text.encode() + "王五,110101199003074573,13800138000,北京\n".encode("gbk"),
        "big5": "姓名,身份證號\n司馬光,110101199003074573\n陳大文,440305199912310011\n".encode("big5"),
    }
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code="refusals",
                                   name="refusals", category="civil", grade=2, update_interval=0)
        session.commit()
        dataset_id = dataset.dataset_id
        for name, data in files.items():
            path = tmp_path / f"{name}.csv"
            path.write_bytes(data)
            with pytest.raises(InvalidInput) as refused:
                register_version(session, dataset_id=dataset.dataset_id, path=path)
            assert refused.value.field == "file", refused.value
        path = tmp_path / "mixed.csv"
        with pytest.raises(InvalidInput, match=r"is not utf-8 text: at byte \d+ \(line 5\)"):
            register_version(session, dataset_id=dataset.dataset_id, path=path, encoding="utf-8")
        with pytest.raises(InvalidInput, match="charset-normalizer reads it as big5"):
            register_version(session, dataset_id=dataset.dataset_id, path=tmp_path / "big5.csv")
        with pytest.raises(InvalidInput, match="'latin-1' is not one of utf-8, utf-8-sig, gbk, gb18030"):
            register_version(session, dataset_id=dataset.dataset_id, path=path, encoding="latin-1")
        session.rollback()
    _nothing_recorded(service, dataset_id)

    gbk = tmp_path / "people.csv"
    gbk.write_bytes(text.encode("gbk"))
    with service.sessions() as session:
        typo = register_dataset(session, department=service.settings.department_id, code="typo", name="typo",
                                category="civil", grade=2, update_interval=0,
                                field_classes={"姓名": "name", "身份证": "id_number", "phone": "mobile"})
        keyed = register_dataset(session, department=service.settings.department_id, code="keyed", name="keyed",
                                 category="civil", grade=2, update_interval=0, key_fields=["证件号"],
                                 encoding="GB2312")  # declared by an alias: read as GBK
        session.commit()
        ids_ = typo.dataset_id, keyed.dataset_id
        with pytest.raises(InvalidInput) as refused:
            register_version(session, dataset_id=typo.dataset_id, path=gbk)
        assert refused.value.field == "field_classes"
        assert refused.value.reason == ("身份证, phone are no column of the file; "
                                        "its columns are 姓名, 身份证号, 手机号, 住址")
        with pytest.raises(InvalidInput, match="证件号 is no column of the file; its columns are 姓名, 身份证号"):
            register_version(session, dataset_id=keyed.dataset_id, path=gbk)
        session.rollback()
    for dataset_id in ids_:
        _nothing_recorded(service, dataset_id)


def test_the_declared_encoding_is_preferred_and_recorded_by_its_canonical_name() -> None:
    data = "姓名\n张三\n".encode("gbk")
    for declared, recorded in (("GBK", "gbk"), ("cp936", "gbk"), ("GB18030", "gb18030"), (None, "gbk")):
        check = TextCheck(declared)
        check(data)
        assert check.encoding() == recorded
    bom = TextCheck("utf-8")
    bom("\ufeff姓名\n".encode())
    assert bom.encoding() == "utf-8-sig"  # what the bytes are: a declared UTF-8 file with a mark
