"""Tables derived from indexed events (grants, uses, quality issues, the catalog of every
department's datasets): applied event by event in chain order within one indexer step (a
:class:`Projection`), and rebuilt from the remaining events for the keys a reorg touched.

A step's uses, the bulk of the events, are inserted at once when the step ends, and its grants
are read from SQL once, up front: the projectors read and change them in memory. The rarer
tables go through the session's unit of work, which flushes before any read, so a projector
sees what the step's earlier events did (a grant requested, approved and used in one step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from ledger import ids
from ledger.clients import GrantStatus, IssueStatus
from node.catalog import texts
from node.models import (
    CatalogDataset, CatalogVersion, ChainEventRow, Dataset, Grant, Lineage, Note, QualityIssue, QueryRow,
    RefusedQueryRow, Use,
)
from node.chain.attribution import GrantTerms
from node.chain.bulk import insert_rows
from node.chain.outbox import enqueue
from node.chain.rows import IndexedEvent
from node.chain.texts import keep, text_published

USES: Table = Use.__table__  # type: ignore[assignment]
QUERIES: Table = QueryRow.__table__  # type: ignore[assignment]
REFUSED_QUERIES: Table = RefusedQueryRow.__table__  # type: ignore[assignment]
SQL_PARAMETERS = 500
"""Keys per ``IN (...)``, well under every database's limit on bound parameters."""


class Projection:
    """The projections of one indexer step, in one session: :meth:`apply` each event in chain
    order, then :meth:`finish` before the commit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.uses: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []
        self.refused_queries: list[dict[str, Any]] = []
        # Held here, not only in the session's identity map, which drops unreferenced rows.
        self._grants: dict[str, Grant | None] = {}
        self._terms: dict[str, GrantTerms] = {}
        self._sequences: dict[str, int] = {}

    def load_grants(self, grant_ids: Iterable[str]) -> None:
        """Read the grants ``grant_ids`` (those the step's events name) in a few queries."""
        wanted = sorted({g for g in grant_ids if g not in self._grants})
        for start in range(0, len(wanted), SQL_PARAMETERS):
            part = wanted[start : start + SQL_PARAMETERS]
            self._grants.update({g: None for g in part})
            found = self.session.scalars(select(Grant).where(Grant.grant_id.in_(part)))
            self._grants.update((grant.grant_id, grant) for grant in found)

    def grant(self, grant_id: str) -> Grant | None:
        """Grant ``grant_id`` as the step's events so far left it."""
        if grant_id not in self._grants:
            self._grants[grant_id] = self.session.get(Grant, grant_id)
        return self._grants[grant_id]

    def terms(self, grant_id: str) -> GrantTerms | None:
        """The dataset and grantee of grant ``grant_id`` (which never change), if it is known."""
        if grant_id not in self._terms:
            grant = self.grant(grant_id)
            if grant is None:
                return None
            self._terms[grant_id] = GrantTerms(grant.dataset_id, grant.grantee)
        return self._terms[grant_id]

    def add_grant(self, grant: Grant) -> None:
        self.session.add(grant)
        self._grants[grant.grant_id] = grant

    def count_use(self, grant_id: str, sequence: int) -> None:
        """A use numbered ``sequence`` of grant ``grant_id``, if the grant is known: its count of
        uses (the highest sequence) is set once, when the step finishes."""
        if self.grant(grant_id) is not None:
            self._sequences[grant_id] = max(self._sequences.get(grant_id, 0), sequence)

    def apply(self, row: IndexedEvent) -> None:
        projector = PROJECTORS.get(row.name)
        if projector is not None:
            projector(self, row)

    def finish(self) -> None:
        """Write what :meth:`apply` kept for the end of the step."""
        for grant_id, sequence in self._sequences.items():
            grant = self._grants[grant_id]
            if grant is not None:
                grant.uses = max(grant.uses, sequence)
        self._sequences = {}
        for table, rows in ((USES, self.uses), (QUERIES, self.queries), (REFUSED_QUERIES, self.refused_queries)):
            insert_rows(self.session, table, rows)
            rows.clear()
        self.session.flush()


Projector = Callable[[Projection, IndexedEvent], None]


def _grant(projection: Projection, row: IndexedEvent) -> Grant | None:
    return projection.grant(row.args["grantId"])


def _set_grant_status(status: GrantStatus) -> Projector:
    def apply(projection: Projection, row: IndexedEvent) -> None:
        grant = _grant(projection, row)
        if grant is not None:
            grant.status = status.name.lower()
    return apply


def _requested(projection: Projection, row: IndexedEvent) -> None:
    a = row.args
    keep(projection.session, a["purposeHash"], a.get("purpose"), row.block_number)
    # Every column set here, defaults too: later events of the step read it before any flush.
    projection.add_grant(Grant(
        grant_id=a["grantId"], dataset_id=a["datasetId"], grantee=a["grantee"], status="pending",
        purpose_hash=a["purposeHash"], fields=list(a["fields"]), schema_hash=a["schemaHash"],
        fields_hash="0x" + ids.fields_hash(a["fields"]).hex(), actions=a["actions"],
        duration=int(a["duration"]), max_uses=int(a["maxUses"]), uses=0, price_per_use="0",
        requested_block=row.block_number,
    ))


def _approved(projection: Projection, row: IndexedEvent) -> None:
    grant = _grant(projection, row)
    if grant is not None:
        grant.price_per_use = str(row.args["pricePerUse"])
        if row.args["coApprovalRequired"]:
            grant.status = GrantStatus.AWAITING_CO_APPROVAL.name.lower()


def _activated(projection: Projection, row: IndexedEvent) -> None:
    grant = _grant(projection, row)
    if grant is not None:
        grant.status = GrantStatus.ACTIVE.name.lower()
        grant.expires_at = int(row.args["expiresAt"])


def _used(projection: Projection, row: IndexedEvent) -> None:
    a, log, refused = row.args, row.log, row.name == "UseRefused"
    projection.uses.append({
        "grant_id": a["grantId"], "dataset_id": row.where.dataset_id, "actor": a["actor"], "action": a["action"],
        "evidence_hash": a["evidenceHash"], "sequence": None if refused else int(a["sequence"]),
        "refused": a["reason"] if refused else None, "block_number": log.block_number, "block_time": row.block_time,
        "log_index": log.log_index, "tx_hash": log.tx_hash,
    })
    if not refused:
        projection.count_use(a["grantId"], int(a["sequence"]))


def _query_terms(projection: Projection, row: IndexedEvent) -> None:
    grant, a = _grant(projection, row), row.args
    if grant is not None:
        grant.epsilon_budget, grant.epsilon_cap = int(a["epsilonBudget"]), int(a["epsilonCap"])
        grant.min_group_size, grant.bounds = int(a["minGroupSize"]), a["bounds"]


def _query_recorded(projection: Projection, row: IndexedEvent) -> None:
    a, log = row.args, row.log
    projection.queries.append({
        "grant_id": a["grantId"], "sequence": int(a["sequence"]), "query_hash": a["queryHash"],
        "result_hash": a["resultHash"], "epsilon": int(a["epsilon"]), "epsilon_spent": int(a["epsilonSpent"]),
        "rows_scanned": int(a["rowsScanned"]), "block_number": log.block_number, "block_time": row.block_time,
        "tx_hash": log.tx_hash, "log_index": log.log_index,
    })


def _query_refused(projection: Projection, row: IndexedEvent) -> None:
    a, log = row.args, row.log
    projection.refused_queries.append({
        "grant_id": a["grantId"], "consumer": a["consumer"], "query_hash": a["queryHash"], "reason": int(a["reason"]),
        "block_number": log.block_number, "block_time": row.block_time, "tx_hash": log.tx_hash,
        "log_index": log.log_index,
    })


def _consumer_removed(projection: Projection, row: IndexedEvent) -> None:
    """A consumer removed by its sponsor keeps no grant: end on chain those it holds on this
    department's datasets (the contract already refuses their uses)."""
    open_statuses = [s.name.lower() for s in (GrantStatus.PENDING, GrantStatus.AWAITING_CO_APPROVAL, GrantStatus.ACTIVE)]
    session = projection.session
    grants = session.scalars(select(Grant.grant_id).join(Dataset, Dataset.dataset_id == Grant.dataset_id)
                             .where(Grant.grantee == row.args["consumer"], Grant.status.in_(open_statuses))).all()
    for grant_id in grants:
        enqueue(session, key=f"lapse:{grant_id}", kind="lapse", payload={"grant_id": grant_id})


def _registered(projection: Projection, row: IndexedEvent) -> None:
    a, session = row.args, projection.session
    for parent in a.get("parents", []):
        session.merge(Lineage(child_id=a["datasetId"], parent_id=parent, block_number=row.block_number))
    session.merge(CatalogDataset(
        dataset_id=a["datasetId"], owner_department=a["ownerDepartment"], registrant=a["registrant"],
        category=a["category"], grade=int(a["grade"]), update_interval=int(a["updateInterval"]),
        parents=list(a.get("parents", [])), metadata_text=_believed(a["metadata"], a["metadataHash"]),
        metadata_hash=a["metadataHash"], frozen=False, registered_block=row.block_number, registered_at=row.block_time,
    ))


def _believed(text: str, text_hash: str) -> str:
    """A catalog text from an event, once its hash is computed again and agrees with the event's.
    ``DataRegistry`` computes the hash from the text itself: a mismatch means the log is not its
    own, and the indexer stops there (retrying, reported in ``/health``) rather than index it."""
    if texts.text_hash(text) != text_hash:
        raise ValueError(f"a catalog text hashes to {texts.text_hash(text)}, not the {text_hash} its event names")
    return text


def _metadata_updated(projection: Projection, row: IndexedEvent) -> None:
    entry = projection.session.get(CatalogDataset, row.args["datasetId"])
    if entry is not None:
        entry.metadata_text = _believed(row.args["metadata"], row.args["metadataHash"])
        entry.metadata_hash = row.args["metadataHash"]


def _version_added(projection: Projection, row: IndexedEvent) -> None:
    a = row.args
    projection.session.merge(CatalogVersion(
        dataset_id=a["datasetId"], number=int(a["version"]), content_root=a["contentRoot"],
        schema_text=_believed(a["schema"], a["schemaHash"]), schema_hash=a["schemaHash"],
        size_bytes=int(a["sizeBytes"]), record_count=int(a["recordCount"]), block_number=row.block_number,
        anchored_at=row.block_time,
    ))


def _set_frozen(frozen: bool) -> Projector:
    def apply(projection: Projection, row: IndexedEvent) -> None:
        _mark_frozen(projection.session, row.args["datasetId"], frozen)
    return apply


def _mark_frozen(session: Session, dataset_id: str, frozen: bool) -> None:
    """On the department's own dataset, if it is, and on its entry in the catalog of every department's."""
    for record in (session.get(Dataset, dataset_id), session.get(CatalogDataset, dataset_id)):
        if record is not None:
            record.frozen = frozen


def _version_purged(projection: Projection, row: IndexedEvent) -> None:
    """The catalog entry shows the version purged; the owner's node removes its plaintext on its
    next retention step if it has not (``node.catalog.purge.remove_purged``): the chain is believed."""
    entry = projection.session.get(CatalogVersion, (row.args["datasetId"], int(row.args["version"])))
    if entry is not None:
        entry.purged_block, entry.purge_reason = row.block_number, row.args["reasonHash"]


def _issue_opened(projection: Projection, row: IndexedEvent) -> None:
    projection.session.add(QualityIssue(issue_id=row.args["issueId"], dataset_id=row.args["datasetId"],
                             version=row.args["version"], status="open", opened_block=row.block_number))


def _issue_status(status: IssueStatus) -> Projector:
    def apply(projection: Projection, row: IndexedEvent) -> None:
        issue = projection.session.get(QualityIssue, row.args["issueId"])
        if issue is not None:
            issue.status = status.name.lower()
            if "repairedVersion" in row.args and status is IssueStatus.REPAIRED:
                issue.repaired_version = row.args["repairedVersion"]
    return apply


PROJECTORS: dict[str, Projector] = {
    "DatasetRegistered": _registered,
    "MetadataUpdated": _metadata_updated,
    "VersionAdded": _version_added,
    "VersionPurged": _version_purged,
    "DatasetFrozen": _set_frozen(True),
    "DatasetUnfrozen": _set_frozen(False),
    "AccessRequested": _requested,
    "QueryTermsRequested": _query_terms,
    "QueryRecorded": _query_recorded,
    "QueryRefused": _query_refused,
    "RequestApproved": _approved,
    "GrantActivated": _activated,
    "RequestRejected": _set_grant_status(GrantStatus.REJECTED),
    "RequestWithdrawn": _set_grant_status(GrantStatus.WITHDRAWN),
    "GrantRevoked": _set_grant_status(GrantStatus.REVOKED),
    "GrantLapsed": _set_grant_status(GrantStatus.REVOKED),
    "ConsumerRemoved": _consumer_removed,
    "UseRecorded": _used,
    "UseRefused": _used,
    "IssueOpened": _issue_opened,
    "IssueReturned": _issue_status(IssueStatus.RETURNED),
    "IssueRepaired": _issue_status(IssueStatus.REPAIRED),
    "IssueClosed": _issue_status(IssueStatus.CLOSED),
    "TextPublished": lambda projection, row: text_published(projection.session, row),
}


def reproject(session: Session, fork: int, touched: dict[str, set[str]]) -> None:
    """After a rollback to ``fork``: drop derived rows above it and rebuild touched keys."""
    session.execute(delete(Use).where(Use.block_number > fork))
    session.execute(delete(QueryRow).where(QueryRow.block_number > fork))
    session.execute(delete(RefusedQueryRow).where(RefusedQueryRow.block_number > fork))
    session.execute(delete(Lineage).where(Lineage.block_number > fork))
    session.execute(delete(CatalogDataset).where(CatalogDataset.registered_block > fork))
    session.execute(delete(CatalogVersion).where(CatalogVersion.block_number > fork))
    # A purge undone on chain is sent again by its outbox entry; the plaintext it removed stays gone.
    session.execute(update(CatalogVersion).where(CatalogVersion.purged_block > fork)
                    .values(purged_block=None, purge_reason=None))
    for dataset_id in touched["metadata"]:
        last = session.scalar(
            select(ChainEventRow).where(ChainEventRow.dataset_id == dataset_id, ChainEventRow.block_number <= fork,
                                        ChainEventRow.name.in_(("DatasetRegistered", "MetadataUpdated")))
            .order_by(ChainEventRow.id.desc()).limit(1))
        entry = session.get(CatalogDataset, dataset_id)
        if entry is not None and last is not None:
            entry.metadata_text, entry.metadata_hash = last.args["metadata"], last.args["metadataHash"]
    # A text stays known by its hash; only where it was published is undone, and indexed again.
    session.execute(update(Note).where(Note.published_block > fork).values(published_block=None))
    for dataset_id in touched["frozen"]:
        last = session.scalar(
            select(ChainEventRow).where(ChainEventRow.dataset_id == dataset_id, ChainEventRow.block_number <= fork,
                                        ChainEventRow.name.in_(("DatasetFrozen", "DatasetUnfrozen")))
            .order_by(ChainEventRow.id.desc()).limit(1))
        _mark_frozen(session, dataset_id, last is not None and last.name == "DatasetFrozen")
    grants, issues = sorted(touched["grant"]), sorted(touched["issue"])
    if grants:
        session.execute(delete(Grant).where(Grant.grant_id.in_(grants)))
    if issues:
        session.execute(delete(QualityIssue).where(QualityIssue.issue_id.in_(issues)))
    session.flush()
    if not grants and not issues:
        return
    remaining = session.scalars(
        select(ChainEventRow).where(ChainEventRow.block_number <= fork)
        .order_by(ChainEventRow.block_number, ChainEventRow.log_index)
    ).all()
    projection, grant_ids, issue_ids = Projection(session), set(grants), set(issues)
    for row in remaining:
        if row.name in ("UseRecorded", "UseRefused", "QueryRecorded", "QueryRefused"):  # rows below the fork are kept
            if row.grant_id in grant_ids and row.name == "UseRecorded":
                projection.count_use(row.args["grantId"], int(row.args["sequence"]))
            continue
        if row.grant_id in grant_ids or row.args.get("issueId") in issue_ids:
            projection.apply(IndexedEvent.of(row))
    projection.finish()
