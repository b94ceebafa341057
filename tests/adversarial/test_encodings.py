"""A hostile owner's encodings: declaring one that misreads its file, or one that is no text
encoding at all. Either registration refuses it, with nothing recorded, or what is recorded is
exactly what the chain anchors: the content root over the bytes as sent, the schema hash over
the names as read, and field classes that must name columns of that reading, so a misreading
cannot leave a classed field unmasked."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger import ids
from ledger.clients import Action
from ledger.hashing import content_root
from node.access import review
from node.access.delivery.serve import Request, deliver
from node.catalog.register import register_dataset, register_version
from node.catalog.texts import schema_text, text_hash
from node.formats import FORMATS
from node.errors import InvalidInput
from node.models import DatasetVersion
from node.service import NodeService
from tests.utils.ledgers import Suite

# UTF-8 text whose bytes happen to be valid GBK too: declared GBK, it reads as other characters.
TEXT = "姓名,住址\n李雷,北京\n"


def _dataset(node: NodeService, code: str, **kwargs: object) -> str:
    code = f"{code}-{node.settings.database_url[:5].strip(':')}"  # one module suite, a node per database
    with node.sessions() as session:
        dataset = register_dataset(session, department=node.settings.department_id, code=code, name=code,
                                   category="civil", grade=2, update_interval=0, **kwargs)  # type: ignore[arg-type]
        session.commit()
        return dataset.dataset_id


def _versions(node: NodeService, dataset_id: str) -> int:
    with node.sessions() as session:
        return session.scalar(select(func.count()).select_from(DatasetVersion)
                              .where(DatasetVersion.dataset_id == dataset_id)) or 0


@pytest.mark.parametrize("declared", ["latin-1", "cp1252", "utf-16", "rot13", "base64", "big5", "../../etc"])
def test_an_encoding_that_is_not_a_supported_text_encoding_is_refused(node: NodeService, tmp_path: Path,
                                                                       declared: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(TEXT.encode())
    dataset_id = _dataset(node, f"bad-enc-{abs(hash(declared)) % 10**8}")
    with node.sessions() as session, pytest.raises(InvalidInput) as refused:
        register_version(session, dataset_id=dataset_id, path=path, encoding=declared)
    assert refused.value.field == "encoding"
    assert _versions(node, dataset_id) == 0


def test_a_misleading_declaration_is_refused_or_anchored_as_read(node: NodeService, suite: Suite,
                                                                 tmp_path: Path) -> None:
    data = TEXT.encode()
    assert data.decode("gbk") != TEXT  # the precondition: valid GBK, read as other characters
    path = tmp_path / "people.csv"
    path.write_bytes(data)

    # Classes named as the owner knows its columns: under the false reading they name no column.
    classed = _dataset(node, "misread-classed", field_classes={"姓名": "name", "住址": "address"}, encoding="gbk")
    with node.sessions() as session, pytest.raises(InvalidInput, match="姓名, 住址 are no column of the file"):
        register_version(session, dataset_id=classed, path=path)
    assert _versions(node, classed) == 0

    # Without classes the misreading registers, and the record is what is anchored.
    plain = path
    dataset_id = _dataset(node, "misread-plain", encoding="gbk")
    with node.sessions() as session:
        version = register_version(session, dataset_id=dataset_id, path=plain)
        session.commit()
        schema, root, schema_hash = version.schema, version.content_root, version.schema_hash
        size, records = version.size_bytes, version.record_count
        assert version.encoding == "gbk"
    node.settle()
    assert schema == ["濮撳悕", "浣忓潃"]  # as read, as anchored

    on_chain = node.ledger.registry.version(bytes.fromhex(dataset_id[2:]), 1)
    assert "0x" + on_chain.content_root.hex() == root == "0x" + content_root(plain).root.hex()
    assert "0x" + on_chain.schema_hash.hex() == schema_hash == text_hash(schema_text(
        fields=schema, tabular=FORMATS["csv"], size_bytes=size, record_count=records, encoding="gbk"))

    # A delivery in the source encoding gives back the owner's own bytes: nothing was lost in reading.
    consumer = suite.consumers[1]
    assert consumer.sender is not None
    key = hashlib.sha256(f"misread {node.settings.database_url}".encode()).digest()
    consumer.grants.request_access(key, dataset_id=bytes.fromhex(dataset_id[2:]), purpose="a misread file",
                                   schema_hash=b"\x00" * 32, fields=[], actions=Action.mask(Action.DOWNLOAD),
                                   duration=3600, max_uses=2)
    grant = "0x" + ids.grant_id(consumer.sender.address, key).hex()
    node.indexer.catch_up()  # a request is decided with its purpose in view
    with node.sessions() as session:
        review.approve(session, node.ledger, node.settings.department_id, grant)
        session.commit()
    node.settle()
    with node.sessions() as session:
        row = deliver(session, node.ledger, department=node.settings.department_id, key=node.fingerprint_key,
                      out_dir=node.deliveries_dir, request=Request(grant, consumer.sender.address, encoding="source"))
        delivered = Path(row.path).read_bytes()
    assert list(csv.reader(io.StringIO(delivered.decode("gbk").encode("gbk").decode("utf-8")))) == [
        ["姓名", "住址"], ["李雷", "北京"]]
