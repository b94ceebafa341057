"""A query under a query grant at the owner's node, with the real engine and chain: checked
against the chain, run, released, recorded on chain with the hashes a consumer can check, and
refused for each reason before anything runs or is spent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import select

from ledger import ids
from ledger.clients import Action, PrivacyTerms
from ledger.deploy import Ledger
from node.access.queries import QueryOutcome, privacy_status, run_granted_query
from node.catalog.register import register_dataset, register_version
from node.errors import Conflict, DeliveryRefused, InvalidInput, NotPermitted, QueryRefused
from node.models import Note, OutboxEntry, QueryRow
from node.service import NodeService
from tests.utils.ledgers import Suite

DISTRICTS = ("东城区", "西城区", "朝阳区")
TERMS = PrivacyTerms(epsilon_budget=1_500_000, epsilon_cap=1_000_000, min_group_size=5,
                     bounds=json.dumps({"年龄": [0, 120]}, ensure_ascii=False))


def _dataset(service: NodeService, tmp_path: Path, code: str) -> str:
    """150 people: 60 in 东城区, 50 in 西城区, 40 in 朝阳区 (each far past the release threshold τ
    of 15 at ε 1, so all three go out but once in 10**10 queries)."""
    counts = dict(zip(DISTRICTS, (60, 50, 40)))
    lines = ["姓名,身份证号,区县,年龄"] + [f"张{d}{i},11010119900101{i:04d},{d},{20 + i % 50}"
                                           for d, n in counts.items() for i in range(n)]
    path = tmp_path / f"{code}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with service.sessions() as session:
        dataset = register_dataset(session, department=service.settings.department_id, code=code, name=code,
                                   category="civil-affairs", grade=1, update_interval=0,
                                   field_classes={"姓名": "name", "身份证号": "id_number"})
        register_version(session, dataset_id=dataset.dataset_id, path=path)
        session.commit()
    service.settle()
    return dataset.dataset_id


def _grant(service: NodeService, consumer: Ledger, dataset_id: str, tag: str, terms: PrivacyTerms | None) -> str:
    key = hashlib.sha256(tag.encode()).digest()
    request = {"dataset_id": bytes.fromhex(dataset_id[2:]), "purpose": f"a query test: {tag}", "schema_hash": b"\x00" * 32,
               "fields": [], "actions": Action.mask(Action.QUERY), "duration": 3600, "max_uses": 10}
    if terms is None:
        consumer.grants.request_access(key, **request)  # type: ignore[arg-type]
    else:
        consumer.grants.request_query_access(key, **request, terms=terms)  # type: ignore[arg-type]
    assert consumer.sender is not None
    grant = ids.grant_id(consumer.sender.address, key)
    service.ledger.grants.approve(grant)
    service.indexer.catch_up()
    return "0x" + grant.hex()


def _ask(service: NodeService, grant: str, consumer: Ledger, sql: str, epsilon: int) -> QueryOutcome:
    assert consumer.sender is not None
    with service.sessions() as session:
        return run_granted_query(session, service.ledger, department=service.settings.department_id, grant_id=grant,
                                 consumer=consumer.sender.address, sql=sql, epsilon_micro=epsilon, store=service.store)


def test_a_granted_query_is_released_and_recorded_with_its_hashes(service: NodeService, suite: Suite, tmp_path: Path,
                                                                   database_url: str) -> None:
    tag = database_url.split(":", 1)[0]
    consumer = suite.consumers[0]
    dataset = _dataset(service, tmp_path, f"query-{tag}")
    grant = _grant(service, consumer, dataset, f"query grant {tag}", TERMS)

    outcome = _ask(service, grant, consumer, "SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县", 1_000_000)
    result = outcome.result
    assert sorted(row[0] for row in result.rows) == sorted(DISTRICTS) and result.release_threshold == 15
    assert result.rows_scanned == 150 and result.epsilon == 1_000_000
    # What the consumer gets hashes to what the chain records.
    assert keccak(result.result_json) == result.result_hash and keccak(result.normalised_sql.encode()) == result.query_hash
    service.settle()
    assert service.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 1_000_000
    with service.sessions() as session:
        [row] = session.scalars(select(QueryRow).where(QueryRow.grant_id == grant)).all()
        assert (row.sequence, row.query_hash, row.result_hash, row.epsilon, row.rows_scanned) == (
            1, "0x" + result.query_hash.hex(), "0x" + result.result_hash.hex(), 1_000_000, 150)
        status = privacy_status(session, service.ledger, grant)
        assert (status.spent, status.pending, status.available, status.bounds) == (1_000_000, 0, 500_000, TERMS.bounds)
        # The SQL is kept beside its hash for this node's pages, and never published.
        note = session.get(Note, row.query_hash)
        assert note is not None and (note.text, note.published_block) == (result.normalised_sql, None)
        assert session.scalar(select(OutboxEntry).where(OutboxEntry.key == f"text:{row.query_hash}")) is None

    # Past the budget: refused before anything runs, nothing more spent.
    with pytest.raises(Conflict, match="budget"):
        _ask(service, grant, consumer, "SELECT COUNT(*) FROM data", 600_000)
    with pytest.raises(InvalidInput, match="cap"):
        _ask(service, grant, consumer, "SELECT COUNT(*) FROM data", 1_000_001)
    with pytest.raises(QueryRefused, match="身份证号"):
        _ask(service, grant, consumer, "SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号", 100_000)
    with pytest.raises(NotPermitted):
        _ask(service, grant, suite.consumers[1], "SELECT COUNT(*) FROM data", 100_000)
    service.settle()
    assert service.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 1_000_000


def test_a_grant_without_privacy_terms_runs_no_query(service: NodeService, suite: Suite, tmp_path: Path,
                                                      database_url: str) -> None:
    tag = database_url.split(":", 1)[0]
    dataset = _dataset(service, tmp_path, f"plain-{tag}")
    grant = _grant(service, suite.consumers[0], dataset, f"plain grant {tag}", None)
    with pytest.raises(DeliveryRefused) as refused:
        _ask(service, grant, suite.consumers[0], "SELECT COUNT(*) FROM data", 100_000)
    assert refused.value.refusal == "NO_PRIVACY_TERMS"
