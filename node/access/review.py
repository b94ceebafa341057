"""Access review: a department's decisions on requests, and the coordinator's (the queue they
decide from is :mod:`node.access.queue`).

Every decision is checked against the chain as
it stands (who owns the dataset, what state the grant is in), then queued in the outbox with
the hash of its reason, behind the publication of the reason's text (:mod:`node.chain.texts`),
so that every node can show what the hash on chain stands for.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.clients import GrantStatus
from ledger.clients import Grant as ChainGrant
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from node.errors import Conflict, InvalidInput, NotFound, NotPermitted
from node.models import OutboxEntry
from node.chain import texts
from node.chain.outbox import enqueue

ZERO_HASH = texts.ZERO_HASH


def note(session: Session, text: str, *, field: str = "reason") -> str:
    """Keep ``text``, queue its publication on chain, and return its hash, the value a write then
    names; no text is the zero hash (see :mod:`node.chain.texts`)."""
    return texts.publish(session, text, field=field)


# ---------------------------------------------------------------- decisions


def chain_grant(ledger: Ledger, grant_id: str) -> ChainGrant:
    """The grant ``grant_id`` as the chain holds it now: :class:`InvalidInput` if the id is no
    32-byte hash, :class:`NotFound` if the contract knows no such grant."""
    try:
        return ledger.grants.grant(id32("grant_id", grant_id))
    except ContractError as err:
        if err.name == "GrantsUnknownGrant":
            raise NotFound("grant", grant_id) from err
        raise


def id32(name: str, value: str) -> bytes:
    """The bytes of an id given as a 32-byte hash in 0x hex; :class:`InvalidInput` naming ``name``
    for anything else."""
    try:
        raw = bytes.fromhex(value[2:]) if len(value) == 66 and value.startswith("0x") else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(name, "must be a 32-byte hash in 0x hex")
    return raw


def _expect(grant_id: str, grant: ChainGrant, *statuses: GrantStatus) -> None:
    if grant.status not in statuses:
        wanted = " or ".join(s.name.lower() for s in statuses)
        raise Conflict(f"grant {grant_id}", f"is {grant.status.name.lower()}, not {wanted}")


def _owner_or_coordinator(ledger: Ledger, department: str, dataset_id: bytes, action: str,
                          *, coordinator_may: bool) -> None:
    owner = ledger.registry.dataset(dataset_id).owner_department
    if owner == department_id(department):
        return
    if coordinator_may and _is_coordinator(ledger):
        return
    raise NotPermitted(department, action, f"dataset 0x{dataset_id.hex()} belongs to another department")


def _is_coordinator(ledger: Ledger) -> bool:
    assert ledger.sender is not None
    return ledger.consortium.is_coordinator(ledger.sender.address)


def _purpose_in_view(session: Session, grant_id: str, grant: ChainGrant) -> None:
    """A request is decided on with its purpose read: refused while the text is not in the index."""
    purpose_hash = "0x" + grant.purpose_hash.hex()
    if not texts.texts(session, [purpose_hash]):
        raise Conflict(f"grant {grant_id}", f"its purpose (hash {purpose_hash}) is not in this node's index: "
                       "a request is decided with its purpose in view; try again once the node has indexed it")


def approve(session: Session, ledger: Ledger, department: str, grant_id: str, *, reason: str = "",
            price_per_use: int = 0) -> OutboxEntry:
    """Approve a pending request for one of ``department``'s datasets, at ``price_per_use``."""
    if not 0 <= price_per_use < 1 << 96:
        raise InvalidInput("price_per_use", "must be a uint96")
    grant = chain_grant(ledger, grant_id)
    _owner_or_coordinator(ledger, department, grant.dataset_id, "approve this request", coordinator_may=False)
    _expect(grant_id, grant, GrantStatus.PENDING)
    _purpose_in_view(session, grant_id, grant)
    return enqueue(session, key=f"approve:{grant_id}", kind="approve", payload={
        "grant_id": grant_id, "reason_hash": note(session, reason), "price_per_use": price_per_use})


def reject(session: Session, ledger: Ledger, department: str, grant_id: str, *, reason: str) -> OutboxEntry:
    """Reject a request waiting for ``department`` (as owner, or as coordinator); a reason is required."""
    if not reason.strip():
        raise InvalidInput("reason", "a rejection needs a reason")
    grant = chain_grant(ledger, grant_id)
    if grant.status is GrantStatus.AWAITING_CO_APPROVAL:
        if not _is_coordinator(ledger):
            raise NotPermitted(department, "reject this request", "it waits for the coordinator")
    else:
        _owner_or_coordinator(ledger, department, grant.dataset_id, "reject this request", coordinator_may=False)
        _expect(grant_id, grant, GrantStatus.PENDING)
    return enqueue(session, key=f"reject:{grant_id}", kind="reject",
                   payload={"grant_id": grant_id, "reason_hash": note(session, reason)})


def co_approve(session: Session, ledger: Ledger, department: str, grant_id: str, *, reason: str = "") -> OutboxEntry:
    """The coordinator's co-approval of a grant on a grade 3 or 4 dataset."""
    if not _is_coordinator(ledger):
        raise NotPermitted(department, "co-approve", "this node's account is not the coordinator")
    grant = chain_grant(ledger, grant_id)
    _expect(grant_id, grant, GrantStatus.AWAITING_CO_APPROVAL)
    _purpose_in_view(session, grant_id, grant)
    if ledger.registry.dataset(grant.dataset_id).owner_department == department_id(department):
        raise NotPermitted(department, "co-approve this grant",
                           "the dataset is this department's own: another coordinator co-approves it")
    return enqueue(session, key=f"co_approve:{grant_id}", kind="co_approve",
                   payload={"grant_id": grant_id, "reason_hash": note(session, reason)})


def revoke(session: Session, ledger: Ledger, department: str, grant_id: str, *, reason: str) -> OutboxEntry:
    """Revoke a grant on one of ``department``'s datasets (the coordinator may revoke any)."""
    if not reason.strip():
        raise InvalidInput("reason", "a revocation needs a reason")
    grant = chain_grant(ledger, grant_id)
    _owner_or_coordinator(ledger, department, grant.dataset_id, "revoke this grant", coordinator_may=True)
    _expect(grant_id, grant, GrantStatus.PENDING, GrantStatus.AWAITING_CO_APPROVAL, GrantStatus.ACTIVE)
    return enqueue(session, key=f"revoke:{grant_id}", kind="revoke",
                   payload={"grant_id": grant_id, "reason_hash": note(session, reason)})


def freeze(session: Session, ledger: Ledger, department: str, dataset_id: str, *, reason: str,
           frozen: bool = True) -> OutboxEntry:
    """Freeze a dataset in an emergency (no new grants, no uses), or lift the freeze."""
    if not reason.strip():
        raise InvalidInput("reason", "a freeze needs a reason")
    raw = id32("dataset_id", dataset_id)
    try:
        current = ledger.registry.dataset(raw)
    except ContractError as err:
        if err.name == "RegistryUnknownDataset":
            raise NotFound("dataset", dataset_id) from err
        raise
    _owner_or_coordinator(ledger, department, raw, "freeze this dataset", coordinator_may=True)
    coordinator = _is_coordinator(ledger)
    if not frozen and current.frozen_by_coordinator and not coordinator:
        raise NotPermitted(department, "lift this freeze", "the coordinator froze the dataset: only it lifts the freeze")
    # A coordinator may escalate a freeze the owner made; anything else frozen twice is a conflict.
    escalate = frozen and current.frozen and not current.frozen_by_coordinator and coordinator
    if current.frozen == frozen and not escalate:
        raise Conflict(f"dataset {dataset_id}", "is frozen already" if frozen else "is not frozen")
    count = session.scalar(select(func.count()).select_from(OutboxEntry)
                           .where(OutboxEntry.key.startswith(f"freeze:{dataset_id}:")))
    return enqueue(session, key=f"freeze:{dataset_id}:{count}", kind="freeze",
                   payload={"dataset_id": dataset_id, "frozen": frozen, "reason_hash": note(session, reason)})
