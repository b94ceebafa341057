"""Text encodings over real HTTP: a GBK CSV with Chinese headers registers with its Chinese schema
and field classes, a file that cannot be decoded or field classes naming no column are refused
with a 422 at registration and nothing is kept, deliveries and open downloads come in the source
encoding or in UTF-8; quality rules over several fields, and a check with no rules refused."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.hashing import delivery_evidence
from node.access.delivery.fingerprint import plain_masks
from node.models import DatasetVersion, OutboxEntry
from node.service import NodeService
from tests.api.clients import bearer, request_access, siwe_token, wait_for_write, wait_until
from tests.api.conftest import serve_node
from tests.utils.ledgers import Suite

PASSWORD = "encodings reviewer password"
TEXT = ("姓名,身份证号,手机号,住址\n"
        "司马筠菊,110101199003074573,13800138000,北京市海淀区中关村大街1号\n"
        "张三,11010519491231002X,13900139000,上海市浦东新区世纪大道100号\n")
CLASSES = {"姓名": "name", "身份证号": "id_number", "手机号": "mobile"}


@dataclass
class Site:
    http: httpx.Client
    staff: str
    consumer: str


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite) -> Iterator[Site]:
    with serve_node(node, {"steward.li": "admin"}, PASSWORD) as api:
        consumer = siwe_token(api.http, suite.accounts[7], api.domain, node.ledger.manifest.chain_id)
        yield Site(api.http, api.staff["steward.li"], consumer)


def _dataset(site: Site, code: str, *, grade: int = 2, **extra: Any) -> str:
    created = site.http.post("/datasets", headers=bearer(site.staff), json={
        "code": code, "name": f"户籍 {code}", "category": "civil", "grade": grade, "update_interval": 86400,
        "field_classes": CLASSES, **extra})
    assert created.status_code == 201, created.text
    dataset_id: str = created.json()["dataset_id"]
    return dataset_id


def _upload(site: Site, dataset_id: str, data: bytes, **params: str) -> httpx.Response:
    return site.http.put(f"/datasets/{dataset_id}/versions", params={"format": "csv", **params}, content=data,
                         headers={**bearer(site.staff), "Content-Type": "text/csv"})


def _refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error.get("field") == field, error
    message: str = error["message"]
    return message


def _kept(node: NodeService, dataset_id: str) -> tuple[int, int, list[str]]:
    """Versions and queued version writes of ``dataset_id``, and the files kept for it."""
    folder = node.settings.data_dir / "datasets" / dataset_id
    with node.sessions() as session:
        versions = session.scalar(select(func.count()).select_from(DatasetVersion)
                                  .where(DatasetVersion.dataset_id == dataset_id))
        writes = session.scalar(select(func.count()).select_from(OutboxEntry)
                                .where(OutboxEntry.key.like(f"version:{dataset_id}:%")))
    return versions or 0, writes or 0, sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_gbk_csv_registers_in_chinese_and_is_delivered_in_either_encoding(site: Site, node: NodeService,
                                                                            suite: Suite, module_database_url: str) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    http = site.http
    gbk = TEXT.encode("gbk")
    dataset_id = _dataset(site, f"gbk-{tag}")
    uploaded = _upload(site, dataset_id, gbk)
    assert uploaded.status_code == 201, uploaded.text
    version = uploaded.json()
    assert version["encoding"] == "gbk" and version["schema"] == ["姓名", "身份证号", "手机号", "住址"]
    root = bytes.fromhex(version["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))

    # Quality: several fields in one rule; a timeliness rule naming a field is refused, naming the rule.
    assert _refused(http.post(f"/datasets/{dataset_id}/versions/1/quality-check", json={},
                              headers=bearer(site.staff)), "rules").endswith("set some first")
    bad = http.put(f"/datasets/{dataset_id}/quality-rules", headers=bearer(site.staff),
                   json=[{"kind": "timeliness", "fields": ["姓名"], "max_age_seconds": 60}])
    assert bad.status_code == 422 and "timeliness" in bad.json()["error"]["field"], bad.text
    assert "a timeliness rule names no field" in bad.json()["error"]["message"], bad.text
    rules = http.put(f"/datasets/{dataset_id}/quality-rules", headers=bearer(site.staff),
                     json=[{"kind": "validity", "fields": ["身份证号", "手机号"]},
                           {"kind": "completeness", "fields": ["姓名", "住址"]}])
    assert rules.status_code == 200, rules.text
    checked = http.post(f"/datasets/{dataset_id}/versions/1/quality-check", json={"open_issue": False},
                        headers=bearer(site.staff))
    assert checked.status_code == 200 and checked.json()["passed"] is True, checked.text
    assert [r["checked"] for r in checked.json()["report"]["results"]] == [4, 2]

    grant = request_access(http, site.consumer, suite.consumers[0], dataset_id, f"gbk {tag}")
    wait_until(lambda: any(q["grant_id"] == grant for q in http.get("/review/queue", headers=bearer(site.staff)).json()))
    approved = http.post(f"/grants/{grant}/approve", json={"reason": "ok"}, headers=bearer(site.staff))
    assert wait_for_write(http, site.staff, approved.json()["id"])["status"] == "confirmed"
    for asked, charset in (("source", "gbk"), ("utf-8", "utf-8"), (None, "utf-8")):
        made = http.post(f"/grants/{grant}/deliveries", json={} if asked is None else {"encoding": asked},
                         headers=bearer(site.consumer))
        assert made.status_code == 201 and made.json()["encoding"] == charset, made.text
        got = http.get(made.json()["download"], headers=bearer(site.consumer))
        assert got.headers["content-type"] == f"text/csv; charset={charset}"
        assert "0x" + delivery_evidence(bytes.fromhex(made.json()["delivery_id"][2:]),
                                        hashlib.sha256(got.content).digest()).hex() == made.json()["evidence_hash"]
        rows = list(csv.reader(io.StringIO(plain_masks(got.content.decode(charset)))))
        assert rows == [["姓名", "身份证号", "手机号", "住址"],
                        ["司马**", "110101********4573", "138****8000", "北京市海淀区中关村大街1号"],
                        ["张*", "110105********002X", "139****9000", "上海市浦东新区世纪大道100号"]]
    assert _refused(http.post(f"/grants/{grant}/deliveries", json={"encoding": "latin-1"},
                              headers=bearer(site.consumer)), "body.encoding")


def test_unreadable_files_and_classes_naming_no_column_are_refused_at_registration(site: Site,
                                                                                    node: NodeService) -> None:
    random_bytes = bytes(range(256)) * 4
    mixed = TEXT.encode() + "王五,110101199003074573,13800138000,北京\n".encode("gbk")
    dataset_id = _dataset(site, f"refused-{node.settings.database_url[:5].strip(':')}")
    assert "neither UTF-8" in _refused(_upload(site, dataset_id, random_bytes), "file")
    assert "is not utf-8 text: at byte" in _refused(_upload(site, dataset_id, mixed, encoding="utf-8"), "file")
    assert "not one of utf-8" in _refused(_upload(site, dataset_id, TEXT.encode("gbk"), encoding="latin-1"),
                                          "encoding")
    assert _kept(node, dataset_id) == (0, 0, [])

    typo = _dataset(site, f"typo-{node.settings.database_url[:5].strip(':')}", encoding="gbk",
                    field_classes={"姓名": "name", "身份证": "id_number"})
    message = _refused(_upload(site, typo, TEXT.encode("gbk")), "field_classes")
    assert message == "field_classes: 身份证 is no column of the file; its columns are 姓名, 身份证号, 手机号, 住址"
    assert _kept(node, typo) == (0, 0, [])
    assert site.http.get(f"/datasets/{typo}", headers=bearer(site.staff)).json()["versions"] == []


def test_open_data_downloads_in_the_source_encoding_or_utf8(site: Site, node: NodeService) -> None:
    data = TEXT.encode("gb18030")
    dataset_id = _dataset(site, f"open-{node.settings.database_url[:5].strip(':')}", grade=1)
    uploaded = _upload(site, dataset_id, data)
    assert uploaded.status_code == 201 and uploaded.json()["encoding"] == "gbk", uploaded.text  # GBK's subset
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    source = site.http.get(f"/open/{dataset_id}/content", params={"encoding": "source"})
    assert source.status_code == 200, source.text
    assert source.content == data and source.headers["content-type"] == "text/csv; charset=gbk"
    assert source.headers["x-provledger-content-root"] == uploaded.json()["content_root"]
    converted = site.http.get(f"/open/{dataset_id}/content")
    assert converted.content.decode("utf-8") == TEXT
    assert converted.headers["x-provledger-encoding"] == "utf-8"
    assert converted.headers["x-provledger-source-encoding"] == "gbk"
