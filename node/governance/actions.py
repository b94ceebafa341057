"""The governance writes a department's node makes for its staff: proposals and votes on
members, consumers it sponsors, its service accounts, and, on the coordinator's node, auditors,
coordinators, the pause and the end of founding.

Each is checked first against the chain (the caller's role there, and every rule the contract
would refuse it by), so that a refusal is answered at once, naming the rule, and nothing is
queued; then it is queued in the outbox (:mod:`node.chain.writes` holds how each is sent and
recognised as already applied). Texts (a consumer's profile, a reason) are published on chain
before the write that names their hash (:func:`node.chain.texts.publish`).
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.clients import Proposal
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from node.chain import texts
from node.chain.outbox import PENDING, SIGNED, enqueue
from node.chain.writes import ROLES, WRITES, b32, role_hash
from node.departments import check_code, check_name, code_of
from node.errors import Conflict, InvalidInput, NotFound, NotPermitted
from node.governance.state import profile_text
from node.models import OutboxEntry

ZERO_ADDRESS = "0x" + "00" * 20
MAX_SERVICE_ACCOUNTS = 8
"""``Consortium.MAX_SERVICE_ACCOUNTS``."""
EXECUTED = 2


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def address(field: str, value: str) -> str:
    """``value`` as a checksummed address; :class:`InvalidInput` naming ``field`` otherwise."""
    if not Web3.is_address(value) or int(value, 16) == 0:
        raise InvalidInput(field, f"{value!r} is not a non-zero 0x address")
    return str(Web3.to_checksum_address(value))


def _own(ledger: Ledger, department: str) -> bytes:
    """The node's department id, once the chain confirms the node's account serves it as a member."""
    own = department_id(department)
    assert ledger.sender is not None, "governance writes need the node's account"
    if ledger.consortium.department_of(ledger.sender.address) != own:
        raise NotPermitted(department, "act in the consortium's governance",
                           "it is not a member department (or this node's account no longer serves it)")
    return own


def require_coordinator(ledger: Ledger, department: str, action: str) -> None:
    """The node's account holds COORDINATOR_ROLE on chain; :class:`NotPermitted` otherwise."""
    assert ledger.sender is not None
    if not ledger.consortium.is_coordinator(ledger.sender.address):
        raise NotPermitted(department, action, "this node's account is not the consortium's coordinator")


def _require_free(ledger: Ledger, field: str, account: str) -> None:
    """The account holds no role an account may hold only one of (the contract's rule)."""
    consortium = ledger.consortium
    serving, sponsor, auditor = consortium.call_many(
        [("departmentOf", (account,)), ("sponsorOf", (account,)), ("isAuditor", (account,))])
    if any(serving):
        raise Conflict(f"{field} {account}", f"it is a service account of {code_of(serving)} already")
    if any(sponsor):
        raise Conflict(f"{field} {account}", "it is a consumer already")
    if auditor:
        raise Conflict(f"{field} {account}", "it is an auditor")


def _chain_time(ledger: Ledger) -> int:
    [head] = ledger.rpc.call([("eth_getBlockByNumber", ["latest", False])])
    return int(head.result["timestamp"], 16) if isinstance(head.result, dict) else 0


def open_proposal(ledger: Ledger, proposal_id: str) -> Proposal:
    """The proposal, open and before its deadline; :class:`NotFound` or :class:`Conflict` otherwise."""
    try:
        proposal = ledger.consortium.proposal(b32(proposal_id))
    except ContractError as err:
        if err.name == "ConsortiumUnknownProposal":
            raise NotFound("proposal", proposal_id) from err
        raise
    if proposal.status == EXECUTED:
        raise Conflict(f"proposal {proposal_id}", "it is closed: executed already")
    if _chain_time(ledger) > proposal.deadline:
        raise Conflict(f"proposal {proposal_id}", "it has expired: its voting period is over")
    return proposal


def _queue(session: Session, ledger: Ledger, *, key: str, kind: str, payload: dict[str, str]) -> OutboxEntry:
    """Queue the write once the chain, asked now from this node's account, would take it: a rule
    the checks before did not name is refused here with the contract's error (409)."""
    assert ledger.sender is not None
    try:
        WRITES[kind].call(ledger, payload).call({"from": ledger.sender.address})
    except Exception as err:  # web3 raises several kinds for a revert; decoded into the contract's error
        decoded = ledger.consortium.errors.from_web3(err)
        if isinstance(decoded, ContractError):
            raise decoded from err
        raise
    return enqueue(session, key=key, kind=kind, payload=payload)


# ---------------------------------------------------------------- proposals


def _proposal_key(session: Session, kind: str, code: str) -> bytes:
    """A key of this node's for a new proposal on ``code``: never one it used before."""
    if session.scalar(select(func.count()).select_from(OutboxEntry).where(
            OutboxEntry.kind == kind, OutboxEntry.status.in_((PENDING, SIGNED)),
            OutboxEntry.payload["code"].as_string() == code)):
        raise Conflict(f"department {code}", f"this node's {kind.replace('_', ' ')} of it is still being recorded")
    used = session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.kind == kind)) or 0
    return bytes(Web3.keccak(text=f"{kind}:{code}:{used}"))


def _queue_proposal(session: Session, ledger: Ledger, kind: str, code: str, payload: dict[str, str]
                    ) -> tuple[OutboxEntry, str]:
    assert ledger.sender is not None
    key = _proposal_key(session, kind, code)
    proposal_id = _hex(ledger.consortium.proposal_id_of(ledger.sender.address, key))
    entry = _queue(session, ledger, key=f"proposal:{proposal_id}", kind=kind,
                    payload={**payload, "code": code, "key": _hex(key), "proposal_id": proposal_id})
    return entry, proposal_id


def propose_admission(session: Session, ledger: Ledger, department: str, *, code: str, name: str, validator: str,
                      service_account: str) -> tuple[OutboxEntry, str]:
    """Propose admitting department ``code``; the entry and the proposal's id (derived on chain
    from this node's account and a key it chooses)."""
    _own(ledger, department)
    try:
        code = check_code(code)
    except ValueError as err:
        raise InvalidInput("code", str(err)) from err
    try:
        name = check_name(name, code)
    except ValueError as err:
        raise InvalidInput("name", str(err)) from err
    validator = address("validator", validator)
    service_account = address("service_account", service_account)
    if validator == service_account:
        raise InvalidInput("service_account", "must not be the validator's address")
    consortium = ledger.consortium
    try:
        consortium.department(department_id(code))
    except ContractError as err:
        if err.name != "ConsortiumUnknownDepartment":
            raise
    else:
        raise Conflict(f"department {code}", "it is or was a member already (department ids are never reused)")
    members = consortium.members()
    validators = {str(Web3.to_checksum_address(consortium.department(m).validator)): code_of(m) for m in members}
    if validator in validators:
        raise Conflict(f"validator {validator}", f"it is the validator of {validators[validator]} already")
    _require_free(ledger, "service_account", service_account)
    return _queue_proposal(session, ledger, "propose_admission", code, {
        "department_id": _hex(department_id(code)), "name": name, "validator": validator,
        "service_account": service_account})


def propose_removal(session: Session, ledger: Ledger, department: str, *, code: str) -> tuple[OutboxEntry, str]:
    _own(ledger, department)
    members = ledger.consortium.members()
    if department_id(code) not in members:
        raise Conflict(f"department {code}", "it is not a member")
    if len(members) == 1:
        raise Conflict(f"department {code}", "it is the last department: the consortium cannot remove it")
    return _queue_proposal(session, ledger, "propose_removal", code, {"department_id": _hex(department_id(code))})


def vote(session: Session, ledger: Ledger, department: str, proposal_id: str) -> OutboxEntry:
    own = _own(ledger, department)
    open_proposal(ledger, proposal_id)
    if ledger.consortium.has_voted(b32(proposal_id), own):
        raise Conflict(f"proposal {proposal_id}", f"{department} voted on it already")
    return _queue(session, ledger, key=f"vote:{proposal_id}", kind="vote",
                   payload={"proposal_id": proposal_id, "department_id": _hex(own)})


def execute(session: Session, ledger: Ledger, department: str, proposal_id: str) -> OutboxEntry:
    _own(ledger, department)
    proposal = open_proposal(ledger, proposal_id)
    yes, quorum = ledger.consortium.tally(b32(proposal_id))
    if yes < quorum:
        raise Conflict(f"proposal {proposal_id}",
                       f"no majority: {yes} of the members voted for it, it needs {quorum}")
    if proposal.kind == 0:
        _require_free(ledger, "service_account", proposal.service_account)
    return _queue(session, ledger, key=f"execute:{proposal_id}", kind="execute_proposal",
                   payload={"proposal_id": proposal_id})


# ---------------------------------------------------------------- consumers and service accounts


def register_consumer(session: Session, ledger: Ledger, department: str, *, consumer: str, organisation: str,
                      contact: str, purpose: str) -> OutboxEntry:
    """Sponsor ``consumer``, described by a profile published on chain (no personal number in it)."""
    own = _own(ledger, department)
    consumer = address("address", consumer)
    for field, value in (("organisation", organisation), ("contact", contact), ("purpose", purpose)):
        texts.checked(field, value.strip(), max_bytes=1000)
    _require_free(ledger, "address", consumer)
    profile_hash = texts.publish(session, profile_text(organisation.strip(), contact.strip(), purpose.strip()),
                                 field="profile")
    return _queue(session, ledger, key=f"register_consumer:{consumer}:{uuid.uuid4().hex}", kind="register_consumer",
                   payload={"consumer": consumer, "profile_hash": profile_hash, "department_id": _hex(own)})


def remove_consumer(session: Session, ledger: Ledger, department: str, *, consumer: str, reason: str) -> OutboxEntry:
    """Take the consumer role from ``consumer``: its sponsor's node, or the coordinator's."""
    own = _own(ledger, department)
    consumer = address("address", consumer)
    sponsor = ledger.consortium.sponsor_of(consumer)
    if not any(sponsor):
        raise NotFound("consumer", consumer)
    assert ledger.sender is not None
    if sponsor != own and not ledger.consortium.is_coordinator(ledger.sender.address):
        raise NotPermitted(department, f"remove consumer {consumer}",
                           f"it is sponsored by {code_of(sponsor)}, and only its sponsor or the coordinator may")
    reason_hash = texts.publish(session, reason)
    return _queue(session, ledger, key=f"remove_consumer:{consumer}:{uuid.uuid4().hex}", kind="remove_consumer",
                   payload={"consumer": consumer, "reason_hash": reason_hash})


def offer_service_account(session: Session, ledger: Ledger, department: str, *, account: str) -> OutboxEntry:
    own = _own(ledger, department)
    account = address("address", account)
    _require_free(ledger, "address", account)
    if len(ledger.consortium.service_accounts(own)) >= MAX_SERVICE_ACCOUNTS:
        raise Conflict(f"department {department}", f"it has its {MAX_SERVICE_ACCOUNTS} service accounts already")
    return _queue(session, ledger, key=f"offer_service_account:{account}:{uuid.uuid4().hex}", kind="offer_service_account",
                   payload={"account": account, "department_id": _hex(own)})


def remove_service_account(session: Session, ledger: Ledger, department: str, *, account: str) -> OutboxEntry:
    own = _own(ledger, department)
    account = address("address", account)
    if ledger.consortium.department_of(account) != own:
        raise NotFound("service account", account)
    assert ledger.sender is not None
    if account == ledger.sender.address:
        raise Conflict(f"service account {account}", "this node signs with it")
    if len(ledger.consortium.service_accounts(own)) == 1:
        raise Conflict(f"service account {account}", "it is the department's last")
    return _queue(session, ledger, key=f"remove_service_account:{account}:{uuid.uuid4().hex}",
                   kind="remove_service_account", payload={"account": account, "department_id": _hex(own)})


# ---------------------------------------------------------------- the coordinator

Role = Literal["auditor", "coordinator"]


def appoint(session: Session, ledger: Ledger, department: str, role: Role, account: str) -> OutboxEntry:
    """Give ``role`` to ``account``, on the coordinator's node."""
    require_coordinator(ledger, department, f"appoint an {role}")
    account = address("address", account)
    if ledger.consortium.has_role(role_hash(role), account):
        raise Conflict(f"{role} {account}", f"it is an {role} already")
    if role == "auditor":
        _require_free(ledger, "address", account)
    return _queue(session, ledger, key=f"grant_role:{role}:{account}:{uuid.uuid4().hex}", kind="grant_role",
                   payload={"role": role, "account": account})


def dismiss(session: Session, ledger: Ledger, department: str, role: Role, account: str) -> OutboxEntry:
    """Take ``role`` from ``account``, on the coordinator's node; the last coordinator stays."""
    assert role in ROLES
    require_coordinator(ledger, department, f"remove an {role}")
    account = address("address", account)
    if not ledger.consortium.has_role(role_hash(role), account):
        raise NotFound(role, account)
    return _queue(session, ledger, key=f"revoke_role:{role}:{account}:{uuid.uuid4().hex}", kind="revoke_role",
                   payload={"role": role, "account": account})


def pause(session: Session, ledger: Ledger, department: str, *, reason: str) -> OutboxEntry:
    """Pause the ledger; ``reason`` is published on chain first, and its hash is in the pause's event."""
    require_coordinator(ledger, department, "pause the ledger")
    if ledger.consortium.paused():
        raise Conflict("the ledger", "it is paused already")
    if not reason.strip():
        raise InvalidInput("reason", "say why the ledger is paused")
    reason_hash = texts.publish(session, reason)
    return _queue(session, ledger, key=f"pause:{uuid.uuid4().hex}", kind="pause", payload={"reason_hash": reason_hash})


def resume(session: Session, ledger: Ledger, department: str, *, reason: str) -> OutboxEntry:
    """Let writes resume; the reason's text goes on chain once they do (nothing else is sent
    while paused), its hash in the resume's event."""
    require_coordinator(ledger, department, "resume the ledger")
    if not ledger.consortium.paused():
        raise Conflict("the ledger", "it is not paused")
    if not reason.strip():
        raise InvalidInput("reason", "say why the ledger resumes")
    reason_hash = texts.publish(session, reason)
    return _queue(session, ledger, key=f"unpause:{uuid.uuid4().hex}", kind="unpause", payload={"reason_hash": reason_hash})


def close_founding(session: Session, ledger: Ledger, department: str) -> OutboxEntry:
    require_coordinator(ledger, department, "close founding")
    if ledger.consortium.founding_closed():
        raise Conflict("founding", "it is closed already")
    return _queue(session, ledger, key="close_founding", kind="close_founding", payload={})

