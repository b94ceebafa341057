"""The PDMA quality loop on a department's node: plan (rules per dataset), do (check each
version), check (a report per version, its hash anchored) and act (a failing version opens an
issue on-chain, returned to the source department; a repair is checked again, then the issue
is closed, or reopened if the repair fails too).

Rules are kept with the dataset (``datasets.quality_rules``) and run by
:func:`node.quality.rules.check_file` over the version's file; the report's canonical JSON is
kept here and its hash anchored, so anyone given the report can prove it is the one used. An issue
names the report by the hash of its text published on chain, so every node shows it
(:mod:`node.quality.issues` is the coordinator's side, and every issue in view).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ledger.clients import AnchorKind
from ledger.deploy import Ledger
from node.chain.anchoring import add_item
from node.errors import Conflict, InvalidInput, NotFound
from node.fields import FieldClass
from node.formats import kind_of
from node.models import Dataset, DatasetVersion, QualityReportRow
from node.quality.rules import Rule, check_file
from node.catalog.texts import canonical_hash, canonical_json
from node.chain import texts
from node.quality.issues import enqueue_open, enqueue_verdict
from node.store import PLAIN, DataStore


def set_rules(session: Session, dataset_id: str, rules: Sequence[dict[str, Any]]) -> list[Rule]:
    """Replace the dataset's quality rules; each is checked before any is kept."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset", dataset_id)
    parsed = [Rule.from_json(rule) for rule in rules]
    dataset.quality_rules = [rule.to_json() for rule in parsed]
    return parsed


def check_version(session: Session, version_id: int, *, now: int | None = None,
                  store: DataStore = PLAIN) -> QualityReportRow:
    """Run the dataset's rules over one version (its plaintext, as ``store`` reads it); keep the
    report and queue its hash for anchoring."""
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise NotFound("version", str(version_id))
    dataset = version.dataset
    kind = kind_of(version.source_path)
    if kind is None:
        raise InvalidInput("version", "quality rules apply to CSV and JSON lines datasets")
    created = version.created_at if version.created_at.tzinfo else version.created_at.replace(tzinfo=timezone.utc)
    report = check_file(store.open(Path(version.source_path)), kind, [Rule.from_json(r) for r in dataset.quality_rules],
                        {name: FieldClass(cls) for name, cls in dataset.field_classes.items()},
                        produced_at=int(created.timestamp()), now=now, encoding=version.encoding or "utf-8")
    body = {"dataset_id": dataset.dataset_id, "version": version.number, "content_root": version.content_root,
            **report.to_json()}
    row = QualityReportRow(version_id=version.id, passed=report.passed, report=body,
                           report_hash=canonical_hash(body))
    session.add(row)
    add_item(session, kind=AnchorKind.QUALITY_REPORTS, item=row.report_hash,
             label=f"quality {dataset.dataset_id} v{version.number}")
    session.flush()
    return row


def open_issue(session: Session, report: QualityReportRow, *, ledger: Ledger, note_text: str = "") -> str:
    """Open an issue on-chain against the failing version and return it to the source department.
    The node's account opens it (the issue's id is derived from it on chain); the report is
    published as a text, whose hash is the issue's report hash."""
    if report.passed:
        raise Conflict(f"quality report {report.id}", "passed; there is nothing to open an issue about")
    if report.issue_id is not None:
        return report.issue_id
    version = session.get(DatasetVersion, report.version_id)
    assert version is not None
    code = hashlib.sha256(f"provledger issue/{report.report_hash}".encode()).digest()
    report.issue_id = enqueue_open(session, ledger, code=code, dataset_id=version.dataset_id, version=version.number,
                                   report_hash=_published(session, report),
                                   note_hash=texts.publish(session, note_text or _failures(report), field="note"))
    return report.issue_id


def open_from_report(session: Session, ledger: Ledger, report_id: int, *, note: str = "") -> str:
    """Open an issue from a failing quality report this node holds (its own check of a version)."""
    report = session.get(QualityReportRow, report_id)
    if report is None:
        raise NotFound("quality report", str(report_id))
    return open_issue(session, report, ledger=ledger, note_text=note)


def _published(session: Session, report: QualityReportRow) -> str:
    """The hash of the report's text on chain; a report too large to publish is named by the hash
    anchored for it (its SHA-256), and stays on this node."""
    try:
        return texts.publish(session, canonical_json(report.report), field="report")
    except InvalidInput:
        return report.report_hash


def _failures(report: QualityReportRow) -> str:
    failed = [r["detail"] for r in report.report.get("results", []) if not r.get("passed")]
    return "; ".join(failed)[:2000]


def verify_repair(session: Session, issue_id: str, version_id: int, *, now: int | None = None,
                  store: DataStore = PLAIN) -> QualityReportRow:
    """Check the repaired version again: close the issue if it passes, reopen it if not."""
    report = check_version(session, version_id, now=now, store=store)
    report.issue_id = issue_id
    version = session.get(DatasetVersion, version_id)
    assert version is not None
    enqueue_verdict(session, issue_id, close=report.passed, repaired_version=version.number,
                    note_hash=_published(session, report))
    return report

