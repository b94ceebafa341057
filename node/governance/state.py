"""The consortium as the chain holds it: members with their validators and service accounts,
proposals with their tally, consumers with their sponsor and profile, auditors, coordinators, and
whether the ledger is paused (and why).

Current state comes from the Consortium contract's views, read in one JSON-RPC batch per step
(three in all); what only events tell (which proposals were opened and who voted, consumers with
their profile hash, auditors, coordinators, the pause's reason) comes from the index's chain
events, read in one query, and the texts behind hashes from ``notes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.clients import Department, Proposal as ChainProposal
from ledger.deploy import Ledger, department_id
from node.chain import texts
from node.chain.writes import role_hash
from node.departments import DepartmentNames, code_of
from node.models import ChainEventRow

EVENTS = ("ProposalOpened", "ProposalVoted", "ConsumerRegistered", "ConsumerRemoved", "RoleGranted",
          "RoleRevoked", "ServiceAccountAdded", "LedgerPaused")
"""The Consortium events the state is read from."""
PROFILE_FIELDS = ("organisation", "contact", "purpose")
EXECUTED = 2


@dataclass(frozen=True)
class Named:
    """A department, by code and by the name the chain records for it."""

    code: str
    name: str


@dataclass(frozen=True)
class Member:
    code: str
    name: str
    validator: str
    signer: bool | None
    """Whether the validator is a current Clique signer; None on a chain without Clique."""
    service_accounts: list[str]
    admitted_at: datetime


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: Literal["admission", "removal"]
    department: Named
    validator: str | None
    service_account: str | None
    proposer: Named
    status: Literal["open", "passed", "executed", "expired"]
    yes: int
    """Votes of departments that are members now (what execution counts)."""
    quorum: int
    deadline: datetime
    voters: list[Named]
    you_voted: bool


@dataclass(frozen=True)
class Profile:
    organisation: str
    contact: str
    purpose: str


@dataclass(frozen=True)
class Consumer:
    address: str
    sponsor: Named
    profile: Profile | None
    registered_at: datetime


@dataclass(frozen=True)
class ConsortiumState:
    paused: bool
    pause_reason: str | None
    founding_closed: bool
    members: list[Member]
    proposals: list[Proposal]
    consumers: list[Consumer]
    auditors: list[str]
    coordinators: list[str]


def profile_text(organisation: str, contact: str, purpose: str) -> str:
    """A consumer's profile as the text published on chain: its keccak256 is the profile hash."""
    return json.dumps(dict(zip(PROFILE_FIELDS, (organisation, contact, purpose))), ensure_ascii=False,
                      separators=(",", ":"))


def parse_profile(text: str | None) -> Profile | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in PROFILE_FIELDS):
        return None
    return Profile(*(data[f] for f in PROFILE_FIELDS))


def _at(seconds: int | None) -> datetime:
    return datetime.fromtimestamp(seconds or 0, timezone.utc)


def _checksum(address: str) -> str:
    return str(Web3.to_checksum_address(address))


def _raise(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


def clique_signers(ledger: Ledger) -> set[str] | None:
    """The chain's current Clique signers, or None when it runs no Clique (an anvil)."""
    [reply] = ledger.rpc.call([("clique_getSigners", [])])
    if reply.error is not None or not isinstance(reply.result, list):
        return None
    return {_checksum(s) for s in reply.result}


def consortium_events(session: Session) -> list[ChainEventRow]:
    return list(session.scalars(select(ChainEventRow).where(
        ChainEventRow.contract == "Consortium", ChainEventRow.name.in_(EVENTS)).order_by(ChainEventRow.id)))


def _holders(rows: Iterable[ChainEventRow], role: bytes) -> list[str]:
    """The accounts holding ``role`` after ``rows``, in the order they got it."""
    wanted = "0x" + role.hex()
    held: dict[str, None] = {}
    for row in rows:
        if row.args.get("role") != wanted:
            continue
        account = _checksum(row.args["account"])
        if row.name == "RoleGranted":
            held[account] = None
        else:
            held.pop(account, None)
    return list(held)


def read_state(session: Session, ledger: Ledger, names: DepartmentNames, *, department: str) -> ConsortiumState:
    """The consortium now, as node ``department`` sees it (``you_voted`` is that department's vote)."""
    consortium = ledger.consortium
    rows = consortium_events(session)
    paused, founding_closed, member_ids = (_raise(v) for v in consortium.call_many(
        [("paused", ()), ("foundingClosed", ()), ("members", ())]))
    opened = [r for r in rows if r.name == "ProposalOpened"]
    own = department_id(department)
    member_reads: list[tuple[str, tuple[Any, ...]]] = []
    for raw in member_ids:
        member_reads += [("department", (bytes(raw),)), ("serviceAccounts", (bytes(raw),))]
    proposal_reads: list[tuple[str, tuple[Any, ...]]] = []
    for row in opened:
        pid = bytes.fromhex(row.args["proposalId"][2:])
        proposal_reads += [("proposal", (pid,)), ("tally", (pid,)), ("hasVoted", (pid, own))]
    answers = consortium.call_many(member_reads + proposal_reads) if member_reads or proposal_reads else []
    [head] = ledger.rpc.call([("eth_getBlockByNumber", ["latest", False])])
    now = int(head.result["timestamp"], 16) if isinstance(head.result, dict) else 0
    signers = clique_signers(ledger)

    members = []
    for i, raw in enumerate(member_ids):
        dept = Department(*_raise(answers[2 * i]))
        validator = _checksum(dept.validator)
        members.append(Member(code_of(bytes(raw)), dept.name, validator,
                              None if signers is None else validator in signers,
                              [_checksum(a) for a in _raise(answers[2 * i + 1])], _at(dept.admitted_at)))

    # Who each account served, as events tell it: a proposer is shown by its department then.
    served: dict[str, str] = {}
    for row in rows:
        if row.name == "ServiceAccountAdded":
            served[_checksum(row.args["account"])] = code_of(bytes.fromhex(row.args["departmentId"][2:]))

    def named(code: str) -> Named:
        return Named(code, names.name(code))

    def named_account(address: str) -> Named:
        code = served.get(_checksum(address))
        return named(code) if code is not None else Named(_checksum(address), "coordinator")

    voters: dict[str, list[Named]] = {}
    for row in rows:
        if row.name == "ProposalVoted":
            voters.setdefault(row.args["proposalId"], []).append(
                named(code_of(bytes.fromhex(row.args["voterDepartment"][2:]))))
    proposals = []
    for i, row in enumerate(opened):
        base = len(member_reads) + 3 * i
        p = ChainProposal(*_raise(answers[base]))
        yes, quorum = _raise(answers[base + 1])
        admission = p.kind == 0
        status: Literal["open", "passed", "executed", "expired"]
        if p.status == EXECUTED:
            status = "executed"
        elif now > p.deadline:
            status = "expired"
        else:
            status = "passed" if yes >= quorum else "open"
        proposals.append(Proposal(
            row.args["proposalId"], "admission" if admission else "removal", named(code_of(p.department_id)),
            _checksum(p.validator) if admission else None, _checksum(p.service_account) if admission else None,
            named_account(p.proposer), status, int(yes), int(quorum), _at(p.deadline),
            voters.get(row.args["proposalId"], []), bool(_raise(answers[base + 2]))))

    registered: dict[str, ChainEventRow] = {}
    for row in rows:
        if row.name == "ConsumerRegistered":
            registered[_checksum(row.args["consumer"])] = row
        elif row.name == "ConsumerRemoved":
            registered.pop(_checksum(row.args["consumer"]), None)
    pauses = [r for r in rows if r.name == "LedgerPaused"]
    known = texts.texts(session, [r.args["profileHash"] for r in registered.values()]
                        + [r.args["reasonHash"] for r in pauses[-1:]])
    consumers = [Consumer(address, named(code_of(bytes.fromhex(row.args["sponsor"][2:]))),
                          parse_profile(known.get(row.args["profileHash"])), _at(row.block_time))
                 for address, row in registered.items()]
    reason = known.get(pauses[-1].args["reasonHash"]) if paused and pauses else None
    return ConsortiumState(bool(paused), reason, bool(founding_closed), members, proposals, consumers,
                           _holders(rows, role_hash("auditor")), _holders(rows, role_hash("coordinator")))


def pause_reason(session: Session) -> str | None:
    """The text of the reason the coordinator gave for the latest pause, if this node has it."""
    row = session.scalars(select(ChainEventRow).where(ChainEventRow.contract == "Consortium",
                                                      ChainEventRow.name == "LedgerPaused")
                          .order_by(ChainEventRow.id.desc()).limit(1)).first()
    if row is None:
        return None
    return texts.texts(session, [row.args["reasonHash"]]).get(row.args["reasonHash"])

