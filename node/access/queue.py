"""The review queue with everything a reviewer decides on in view.

Each request waiting for this department (as the dataset's owner, or as the coordinator) comes
with the consumer's purpose in its own words, the dataset's name, grade and category, who asks
and which department sponsors it, the fields it would get in the clear and those that stay
masked, the quota, the duration, a query grant's privacy terms in words (ε budget and cap as
decimals, k, the bounds), and, for the coordinator, the owner's decision (who approved,
when, at what price, and why). Departments are named by their name on chain, never by raw hex.

Everything comes from this node's index of the chain: the purpose from the request's own event,
the texts behind other hashes from ``notes`` (filled from ``TextPublished`` on every node, see
:mod:`node.chain.texts`), a dataset's name and field classes from this department's own datasets
or else from the catalog every node indexes from the chain (:mod:`node.catalog.entries`). Department names and sponsors
are read from the chain, once per department or account per call.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger.clients import GrantStatus
from ledger.deploy import Ledger, department_id
from node.access.query_grants import QueryTerms, terms_of
from node.catalog.entries import entries
from node.catalog.freshness import DAY
from node.chain import texts
from node.departments import code_of
from node.models import ChainEventRow, Dataset, Grant

OWNER, COORDINATOR = "owner", "coordinator"


@dataclass(frozen=True)
class Department:
    """A department by its code (what its bytes32 id holds) and its name on chain."""

    id: str
    code: str
    name: str


@dataclass(frozen=True)
class Decision:
    """The owner department's approval of a request that now waits for the coordinator."""

    department: Department
    reviewer: str
    block: int
    at: int | None
    """The block's time, in seconds since the epoch."""
    reason: str | None
    """The reason's text, if one was given (and its text is on this node)."""
    price_per_use: str


@dataclass(frozen=True)
class QueueItem:
    """A request waiting for ``waiting_for`` (the owner or the coordinator)."""

    grant_id: str
    dataset_id: str
    dataset_name: str | None
    """None when this node knows no catalog entry for the dataset."""
    category: str | None
    grade: int
    owner_department: Department
    grantee: str
    sponsor: Department | None
    """The department that registered the consumer, or that the requesting service account serves."""
    waiting_for: str
    purpose: str | None
    """The consumer's purpose as it wrote it; None only if its text is not on this node."""
    purpose_hash: str
    fields: list[str]
    """The fields the grant would leave in the clear, by name."""
    masked_fields: list[str] | None
    """The dataset's personal-data fields that stay masked (None: not known on this node)."""
    actions: int
    duration: int
    duration_days: float
    max_uses: int
    requested_block: int
    owner_decision: Decision | None
    query_terms: QueryTerms | None
    """A query grant's privacy terms (None: a grant asked for without them)."""


class Names:
    """Department names, accounts' departments and consumers' sponsors, read from the chain once
    each per queue."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.department = cache(self._department)
        self.department_of = cache(self._department_of)
        self.sponsor = cache(self._sponsor)

    def _department(self, id_hex: str) -> Department:
        raw = bytes.fromhex(id_hex.removeprefix("0x"))
        code = code_of(raw)
        name = self._ledger.consortium.department(raw).name
        return Department(id_hex, code, name or code)

    def _department_of(self, account: str) -> Department | None:
        """The department whose own account ``account`` is (None: no department's)."""
        found = self._ledger.consortium.department_of(account)
        return None if found == bytes(32) else self.department("0x" + found.hex())

    def _sponsor(self, account: str) -> Department | None:
        sponsor = self._ledger.consortium.sponsor_of(account)
        if sponsor == bytes(32):
            return self.department_of(account)
        return self.department("0x" + sponsor.hex())


@dataclass(frozen=True)
class CatalogFacts:
    """What a reviewer is told of a dataset: its name, category and field classes."""

    name: str
    category: str
    field_classes: dict[str, str]


def catalog_facts(session: Session, dataset_ids: Collection[str]) -> dict[str, CatalogFacts]:
    """The facts of each of ``dataset_ids`` this node knows, read once for them all: this
    department's own record, or else the catalog entry every node indexes from the chain
    (:mod:`node.catalog.entries`), believed only while its text hashes to the hash beside it. An
    id missing from the answer is a dataset this node knows nothing believable of."""
    wanted = set(dataset_ids)
    if not wanted:
        return {}
    own = {d.dataset_id: CatalogFacts(d.name, d.category, dict(d.field_classes))
           for d in session.scalars(select(Dataset).where(Dataset.dataset_id.in_(wanted)))}
    others = wanted - own.keys()
    indexed = entries(session, dataset_ids=others) if others else []
    return {**{e.dataset_id: CatalogFacts(e.name, e.category, e.field_classes) for e in indexed if e.verified}, **own}


def _approvals(session: Session, grant_ids: Collection[str]) -> dict[str, tuple[ChainEventRow, str | None]]:
    """The owner's latest approval of each of ``grant_ids`` that has one, with its reason's text."""
    if not grant_ids:
        return {}
    latest: dict[str, ChainEventRow] = {}
    for row in session.scalars(select(ChainEventRow).where(ChainEventRow.grant_id.in_(grant_ids),
                                                           ChainEventRow.name == "RequestApproved")
                               .order_by(ChainEventRow.id)):
        latest[str(row.grant_id)] = row
    reasons = texts.texts(session, [row.args["reasonHash"] for row in latest.values()])
    return {grant: (row, reasons.get(row.args["reasonHash"])) for grant, row in latest.items()}


def _decision(owner: Department, approval: tuple[ChainEventRow, str | None] | None) -> Decision | None:
    if approval is None:
        return None
    row, reason = approval
    return Decision(owner, row.args["reviewer"], row.block_number, row.block_time, reason,
                    str(row.args["pricePerUse"]))


def review_queue(session: Session, ledger: Ledger, department: str, *, coordinator: bool = False) -> list[QueueItem]:
    """Requests for ``department``'s datasets waiting for its decision, oldest first; with
    ``coordinator``, also every grant waiting for co-approval (but those on its own data)."""
    mine_id = "0x" + department_id(department).hex()
    registered = (select(ChainEventRow.dataset_id, ChainEventRow.args)
                  .where(ChainEventRow.name == "DatasetRegistered").subquery())
    pending, awaiting = GrantStatus.PENDING.name.lower(), GrantStatus.AWAITING_CO_APPROVAL.name.lower()
    waiting = [Grant.status == pending] + ([Grant.status == awaiting] if coordinator else [])
    rows = session.execute(
        select(Grant, registered.c.args).join(registered, registered.c.dataset_id == Grant.dataset_id)
        .where(or_(*waiting)).order_by(Grant.requested_block, Grant.grant_id)
    ).all()
    names = Names(ledger)
    purposes = texts.texts(session, [grant.purpose_hash for grant, _ in rows])
    facts = catalog_facts(session, [grant.dataset_id for grant, _ in rows])
    approvals = _approvals(session, [grant.grant_id for grant, _ in rows if grant.status == awaiting])
    items = []
    for grant, args in rows:
        mine = args["ownerDepartment"] == mine_id
        waiting_for = OWNER if grant.status == pending else COORDINATOR
        # A coordinator does not co-approve grants on its own department's data: another does.
        if (waiting_for == OWNER and not mine) or (waiting_for == COORDINATOR and mine):
            continue
        owner = names.department(args["ownerDepartment"])
        known = facts.get(grant.dataset_id)
        masked = sorted(set(known.field_classes) - set(grant.fields)) if known is not None else None
        items.append(QueueItem(
            grant.grant_id, grant.dataset_id, known.name if known else None, known.category if known else None, int(args["grade"]), owner, grant.grantee,
            names.sponsor(grant.grantee), waiting_for, purposes.get(grant.purpose_hash), grant.purpose_hash,
            list(grant.fields), masked, grant.actions, grant.duration, round(grant.duration / DAY, 2),
            grant.max_uses, grant.requested_block,
            _decision(owner, approvals.get(grant.grant_id)) if waiting_for == COORDINATOR else None,
            terms_of(grant),
        ))
    return items
