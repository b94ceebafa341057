"""The auditor's trace of a dataset as a page: a timeline of its chain events, each verified
against the chain, the page checked complete against the chain's logs (``node.audit.completeness``),
and each version's files hashed again against the root anchored for it. A version whose files
changed fails on the timeline too, with the file and chunk that differ."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.clients import Action, Refusal, query_refusal_words
from ledger.deploy import Ledger
from node.audit.chainsets import Subject
from node.audit.completeness import Completeness, TraceChecker
from node.models import Dataset, DatasetVersion
from node.query.budget import epsilon_text
from node.audit.trace import TraceItem, dataset_trace
from node.audit.verify import Report, verify_events, verify_version_files
from node.store import PLAIN, DataStore

PAGE = 200
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# The arguments worth a line on the timeline, in the order they are told.
_SHOWN = ("version", "contentRoot", "recordCount", "grantee", "actor", "consumer", "action", "sequence", "reason", "grade",
          "grantId", "pricePerUse", "expiresAt", "maxUses", "repairedVersion", "issueId", "parents",
          "epsilon", "epsilonSpent", "rowsScanned", "queryHash", "resultHash",
          "epsilonBudget", "epsilonCap", "minGroupSize", "bounds")
_EPSILONS = {"epsilon": "ε", "epsilonSpent": "ε spent by the grant", "epsilonBudget": "ε budget",
             "epsilonCap": "ε at most per query"}
"""Privacy losses, in micro-ε on chain, told as decimals."""
_LABELS = {**_EPSILONS, "rowsScanned": "rows scanned", "queryHash": "query", "resultHash": "result",
           "minGroupSize": "groups of at least", "bounds": "bounds"}
_REASONS = ("purposeHash", "reasonHash", "noteHash", "reportHash", "queryHash")


def short(value: Any) -> str:
    """Hashes and addresses shortened to their ends; the full value is in the item's details."""
    text = str(value)
    if _HASH.fullmatch(text):
        return f"{text[:8]}…{text[-6:]}"
    if _ADDRESS.fullmatch(text):
        return f"{text[:6]}…{text[-4:]}"
    return text


def title(name: str) -> str:
    """``AccessRequested`` -> ``Access requested``."""
    words = re.findall(r"[A-Z][a-z]*", name) or [name]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


@dataclass(frozen=True)
class VersionCheck:
    version: DatasetVersion
    report: Report


@dataclass
class TimelineItem:
    item: TraceItem
    facts: list[tuple[str, str]]
    reasons: list[str]
    """The text behind reason hashes, where this node keeps it."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def title(self) -> str:
        return title(self.item.name)


@dataclass(frozen=True)
class DatasetTrace:
    dataset_id: str
    dataset: Dataset | None
    items: list[TimelineItem]
    versions: list[VersionCheck]
    next_after: int | None
    complete: Completeness

    @property
    def failed(self) -> int:
        return sum(not i.ok for i in self.items) + sum(not v.report.ok for v in self.versions)


def _facts(item: TraceItem) -> list[tuple[str, str]]:
    facts = []
    for key in _SHOWN:
        if key not in item.args:
            continue
        value = item.args[key]
        if key == "action":
            value = Action(int(value)).name.lower()
        elif key == "reason" and item.name == "UseRefused":
            value = Refusal(int(value)).name.lower().replace("_", " ")
        elif key == "reason" and item.name == "QueryRefused":
            value = query_refusal_words(value)
        elif key == "parents":
            value = ", ".join(short(p) for p in value) or "none"
        elif key == "expiresAt":
            value = datetime.fromtimestamp(int(value), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        elif key in _EPSILONS:
            value = epsilon_text(int(value))
        facts.append((_LABELS.get(key, key), short(value)))
    return facts


def _check_files(db: Session, ledger: Ledger, version: DatasetVersion, store: DataStore) -> Report:
    try:
        return verify_version_files(db, ledger, version.id, store=store)
    except (OSError, ValueError) as err:  # the version's file or folder is gone or unreadable
        report = Report(f"dataset {version.dataset_id} version root {version.content_root}")
        report.problems.append(f"the version's files cannot be read: {err}")
        return report


def dataset_page(db: Session, ledger: Ledger, traces: TraceChecker, dataset_id: str, *, after: int = 0,
                 store: DataStore = PLAIN) -> DatasetTrace:
    """One page of the dataset's trace, every item verified and the page's span checked complete;
    on the first page, every version's files too (those this node holds: its own datasets')."""
    dataset_id = dataset_id.lower()
    page = dataset_trace(db, ledger.manifest.addresses, dataset_id, after=after, limit=PAGE)
    reports = verify_events(ledger, page.items) if page.items else []
    complete = traces.check(Subject.dataset(dataset_id), after=after, through=page.next_after)
    versions = list(db.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                               .order_by(DatasetVersion.number)))
    checks = [VersionCheck(v, _check_files(db, ledger, v, store)) for v in versions]
    by_number = {c.version.number: c.report for c in checks}
    items = []
    for item, report in zip(page.items, reports):
        timeline = TimelineItem(item, _facts(item), [item.texts[k] for k in _REASONS if k in item.texts],
                                list(report.problems))
        timeline.problems += [p for p in complete.item_problems.get(item.id, []) if p not in timeline.problems]
        files = by_number.get(int(item.args.get("version", 0))) if item.name == "VersionAdded" else None
        if files is not None and not files.ok:
            timeline.problems += [f"files: {p}" for p in files.problems]
        items.append(timeline)
    return DatasetTrace(dataset_id, db.get(Dataset, dataset_id), items, checks if after == 0 else [],
                        page.next_after, complete)
