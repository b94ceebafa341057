"""Quality issues across departments: the coordinator's side of the PDMA loop, and every issue in view.

The coordinating body compares data against quality goals and returns what falls short to the
source department. On the coordinator's node, staff open an issue on any department's dataset
version, by hand with the evidence (each finding: a field, the record numbers, the problem; never
a value) or from a quality report the node holds. The report is published on chain as a text and
its hash is the issue's report hash, so the source department's node shows it; the issue is
returned to the source at once. The source repairs it with a new version
(:func:`repair`); whoever opened it (its department, or the coordinator)
verifies and closes it, or reopens it, with a note. The contract enforces who reviews; the node
checks the same rule first, to answer with a clear refusal instead of a failed write.

Any department may open an issue on its own data (the owner's own checks, :mod:`node.quality.loop`);
only the coordinator opens one on another department's data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import ids
from ledger.clients import Issue, IssueStatus
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from node.access.queue import Department, Names, catalog_facts
from node.access.review import id32
from node.catalog.texts import canonical_json
from node.chain import texts
from node.chain.outbox import enqueue
from node.errors import Conflict, InvalidInput, NotFound, NotPermitted
from node.models import ChainEventRow, Dataset, DatasetVersion, OutboxEntry, QualityIssue

MAX_FINDINGS = 100
MAX_ROWS = 200
ISSUE_EVENTS = ("IssueOpened", "IssueReturned", "IssueRepaired", "IssueClosed", "IssueReopened")
_TEXTS = ("reportHash", "noteHash", "reasonHash")


@dataclass(frozen=True)
class Finding:
    """One problem found: ``field``, the 1-based record numbers that show it, and the rule broken."""

    field: str
    rows: list[int]
    problem: str

    @classmethod
    def parse(cls, text: str) -> Finding:
        """``FIELD:ROWS:PROBLEM``, e.g. ``身份证号:3,7:校验位错误`` (record numbers from 1; never a value)."""
        field, _, rest = text.partition(":")
        rows, _, problem = rest.partition(":")
        try:
            numbers = [int(r) for r in rows.split(",") if r.strip()]
        except ValueError:
            numbers = []
        if not (field.strip() and problem.strip() and numbers):
            raise InvalidInput("findings", f"{text!r} is not FIELD:ROWS:PROBLEM (e.g. 身份证号:3,7:校验位错误)")
        return cls(field.strip(), numbers, problem.strip()).checked()

    def checked(self) -> Finding:
        if not 1 <= len(self.field) <= 64:
            raise InvalidInput("findings", "each names a field of 1 to 64 characters")
        if not 1 <= len(self.problem.strip()) <= 500:
            raise InvalidInput("findings", "each states its problem in 1 to 500 characters")
        if len(self.rows) > MAX_ROWS or any(r < 1 for r in self.rows):
            raise InvalidInput("findings", f"each names at most {MAX_ROWS} record numbers, from 1")
        return Finding(self.field, sorted(set(self.rows)), self.problem.strip())


# ---------------------------------------------------------------- who may do what


def _sender(ledger: Ledger) -> str:
    assert ledger.sender is not None, "the node writes with a sender"
    return ledger.sender.address


def chain_issue(ledger: Ledger, issue_id: str) -> Issue:
    try:
        return ledger.quality.issue(id32("issue_id", issue_id))
    except ContractError as err:
        if err.name == "QualityUnknownIssue":
            raise NotFound("quality issue", issue_id) from err
        raise


def require_reviewer(ledger: Ledger, department: str, issue_id: str, action: str) -> Issue:
    """The issue, if this node may verify its repair (QualityBoard's rule: the department that
    opened it, the auditor that opened it, or a coordinator); :class:`NotPermitted` naming the opener otherwise."""
    issue = chain_issue(ledger, issue_id)
    sender = _sender(ledger)
    if ledger.consortium.is_coordinator(sender):
        return issue
    if issue.opener_department != bytes(32):
        if issue.opener_department == department_id(department):
            return issue
        opener = Names(ledger).department("0x" + issue.opener_department.hex()).name
    else:
        if issue.opener == sender and ledger.consortium.is_auditor(sender):
            return issue
        opener = f"auditor {issue.opener}"
    raise NotPermitted(department, action, f"the issue was opened by {opener}: only it, or the coordinator, "
                                           "verifies the repair")


# ---------------------------------------------------------------- opening


def enqueue_open(session: Session, ledger: Ledger, *, code: bytes, dataset_id: str, version: int,
                 report_hash: str, note_hash: str) -> str:
    """Queue the issue's opening and its return to the source department; returns its id."""
    issue_id = "0x" + ids.issue_id(_sender(ledger), code).hex()
    enqueue(session, key=f"issue:{issue_id}", kind="open_issue", payload={
        "issue_id": issue_id, "code": "0x" + code.hex(), "dataset_id": dataset_id, "version": version,
        "report_hash": report_hash})
    enqueue(session, key=f"issue:{issue_id}:return", kind="return_issue",
            payload={"issue_id": issue_id, "note_hash": note_hash})
    return issue_id


def open_by_hand(session: Session, ledger: Ledger, department: str, *, dataset_id: str, version: int,
                 findings: list[Finding], note: str = "") -> str:
    """Open an issue on a version of any department's dataset (on another's: the coordinator only),
    with ``findings`` as its evidence, and return it to the source department."""
    raw = id32("dataset_id", dataset_id)
    if not 0 < version < 2**32:
        raise InvalidInput("version", "must be a version number from 1")
    try:
        owner = ledger.registry.dataset(raw).owner_department
        content_root = ledger.registry.version(raw, version).content_root
    except ContractError as err:
        if err.name in ("RegistryUnknownDataset", "RegistryUnknownVersion"):
            raise NotFound("dataset version", f"{dataset_id} #{version}") from err
        raise
    if owner != department_id(department) and not ledger.consortium.is_coordinator(_sender(ledger)):
        raise NotPermitted(department, "open an issue on this dataset",
                           "it belongs to another department: only the coordinator returns data to its source")
    if not findings or len(findings) > MAX_FINDINGS:
        raise InvalidInput("findings", f"an issue opened by hand names 1 to {MAX_FINDINGS} findings")
    report = {"dataset_id": dataset_id.lower(), "version": version, "content_root": "0x" + content_root.hex(),
              "opened_by": department, "findings": [vars(f.checked()) for f in findings]}
    report_hash = texts.publish(session, canonical_json(report), field="findings")
    code = ids.key_of(f"provledger issue/{report_hash}")
    return enqueue_open(session, ledger, code=code, dataset_id=dataset_id.lower(), version=version,
                        report_hash=report_hash, note_hash=texts.publish(session, note, field="note"))


def repair(session: Session, department: str, issue_id: str, number: int, *, note: str = "") -> OutboxEntry:
    """The source department names its version ``number`` as the repair of the issue."""
    issue = session.get(QualityIssue, issue_id.lower())
    if issue is None:
        raise NotFound("quality issue", issue_id)
    if session.get(Dataset, issue.dataset_id) is None:
        raise NotPermitted(department, "repair this issue", "the data is another department's: its source repairs it")
    version = session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == issue.dataset_id,
                                                          DatasetVersion.number == number))
    if version is None:
        raise NotFound("version", f"{issue.dataset_id} #{number}")
    return enqueue(session, key=f"issue:{issue.issue_id}:repair:{number}", kind="submit_repair", payload={
        "issue_id": issue.issue_id, "repaired_version": number, "note_hash": texts.publish(session, note, field="note")})


# ---------------------------------------------------------------- verifying


def verify(session: Session, ledger: Ledger, department: str, issue_id: str, *, close: bool,
           note: str = "") -> OutboxEntry:
    """Close the issue (the repair holds) or reopen it (it does not), with ``note`` on chain."""
    issue_id = issue_id.lower()
    issue = require_reviewer(ledger, department, issue_id, "close this issue" if close else "reopen this issue")
    if issue.status is not IssueStatus.REPAIRED:
        raise Conflict(f"quality issue {issue_id}", f"is {issue.status.name.lower()}, not repaired: "
                       "only a repair is verified")
    if not close and not note.strip():
        raise InvalidInput("note", "a reopened issue says what is still wrong")
    return enqueue_verdict(session, issue_id, close=close, repaired_version=issue.repaired_version,
                           note_hash=texts.publish(session, note, field="note"))


def enqueue_verdict(session: Session, issue_id: str, *, close: bool, repaired_version: int, note_hash: str) -> OutboxEntry:
    """Queue closing the issue (its repair holds) or reopening it (the repair ``repaired_version``
    does not), naming ``note_hash``; once per issue for a close, once per repair for a reopen."""
    if close:
        return enqueue(session, key=f"issue:{issue_id}:close", kind="close_issue",
                       payload={"issue_id": issue_id, "note_hash": note_hash})
    return enqueue(session, key=f"issue:{issue_id}:reopen:{repaired_version}", kind="reopen_issue",
                   payload={"issue_id": issue_id, "note_hash": note_hash})


# ---------------------------------------------------------------- in view


@dataclass(frozen=True)
class IssueStep:
    """One step of an issue on chain, with the text behind its hash where this node has it."""

    event: str
    by: str
    block: int
    at: int | None
    text: str | None
    repaired_version: int | None


@dataclass(frozen=True)
class IssueView:
    issue_id: str
    dataset_id: str
    dataset_name: str | None
    version: int
    status: str
    repaired_version: int | None
    opened_block: int
    source_department: Department
    opener: str
    opener_department: Department | None
    """None when an auditor opened it."""
    report_hash: str
    report: dict[str, Any] | None
    """The report or findings behind the report hash, if published (JSON)."""
    steps: list[IssueStep]


def _report(text: str | None) -> dict[str, Any] | None:
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def issue_views(session: Session, ledger: Ledger, department: str, *, coordinator: bool) -> list[IssueView]:
    """Issues this department takes part in (on its data, or opened by it), oldest first; the
    coordinator's node sees every issue."""
    mine = "0x" + department_id(department).hex()
    names = Names(ledger)
    issues = list(session.scalars(select(QualityIssue).order_by(QualityIssue.opened_block, QualityIssue.issue_id)))
    events: defaultdict[object, list[ChainEventRow]] = defaultdict(list)
    for row in session.scalars(select(ChainEventRow).where(ChainEventRow.name.in_(ISSUE_EVENTS))
                               .order_by(ChainEventRow.block_number, ChainEventRow.log_index)):
        events[row.args.get("issueId")].append(row)
    found = texts.texts(session, [r.args.get(k) for rows in events.values() for r in rows for k in _TEXTS])
    facts = catalog_facts(session, {issue.dataset_id for issue in issues})
    views = []
    for issue in issues:
        rows = [r for r in events[issue.issue_id] if r.dataset_id == issue.dataset_id]
        opened = next((r for r in rows if r.name == "IssueOpened"), None)
        if opened is None:
            continue
        opener = str(opened.args["opener"])
        opener_department = names.department_of(opener)
        source = str(opened.args["sourceDepartment"])
        if not coordinator and mine not in (source, opener_department.id if opener_department else None):
            continue
        steps = [IssueStep(r.name, str(r.args.get("by") or r.args.get("opener")), r.block_number, r.block_time,
                           next((found[r.args[k]] for k in _TEXTS if r.args.get(k) in found), None),
                           r.args.get("repairedVersion"))
                 for r in rows]
        report_hash = str(opened.args["reportHash"])
        known = facts.get(issue.dataset_id)
        views.append(IssueView(
            issue.issue_id, issue.dataset_id, known.name if known else None, issue.version,
            issue.status, issue.repaired_version, issue.opened_block, names.department(source), opener,
            opener_department, report_hash, _report(found.get(report_hash)), steps))
    return views
