"""Bodies of the consortium's governance (``/consortium``): its state, proposals and votes,
sponsored consumers, service accounts, and the coordinator's roles and pause."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.schemas.base import ADDRESS_EXAMPLE, Body, Model, UtcDateTime
from api.schemas.grants import WRITE_STATUSES, WriteOut
from api.schemas.mirror import mirrors
from node.models import OutboxEntry
from node.governance.state import ConsortiumState, Consumer, Member, Named, Profile, Proposal

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=[ADDRESS_EXAMPLE])]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", examples=["market-regulation"],
                            description="a department's code")]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


@mirrors(Named)
class DepartmentOut(Model):
    code: str = Field(examples=["market-regulation"])
    name: str = Field(examples=["市场监管局"])


@mirrors(Member, converted={"admitted_at"})
class MemberOut(Model):
    code: str
    name: str
    validator: str
    signer: bool | None = Field(description="a current Clique signer; null on a chain without Clique")
    service_accounts: list[str]
    admitted_at: UtcDateTime


@mirrors(Proposal, converted={"department", "proposer", "voters", "deadline"})
class ProposalOut(Model):
    id: str
    kind: Literal["admission", "removal"]
    department: DepartmentOut
    validator: str | None
    service_account: str | None
    proposer: DepartmentOut
    status: Literal["open", "passed", "executed", "expired"]
    yes: int = Field(description="votes of departments that are members now")
    quorum: int = Field(description="the majority of the members now")
    deadline: UtcDateTime
    voters: list[DepartmentOut]
    you_voted: bool


@mirrors(Profile)
class ProfileOut(Model):
    organisation: str
    contact: str
    purpose: str


@mirrors(Consumer, converted={"sponsor", "profile", "registered_at"})
class ConsumerOut(Model):
    address: str
    sponsor: DepartmentOut
    profile: ProfileOut | None
    registered_at: UtcDateTime


@mirrors(ConsortiumState, converted={"members", "proposals", "consumers"})
class ConsortiumOut(Model):
    paused: bool
    pause_reason: str | None
    founding_closed: bool
    members: list[MemberOut]
    proposals: list[ProposalOut]
    consumers: list[ConsumerOut]
    auditors: list[str]
    coordinators: list[str]


class AdmissionIn(Body):
    kind: Literal["admission"]
    code: Code
    name: str = Field(min_length=1, max_length=64, examples=["市场监管局"])
    validator: Address
    service_account: Address


class RemovalIn(Body):
    kind: Literal["removal"]
    code: Code


ProposalIn = Annotated[AdmissionIn | RemovalIn, Field(discriminator="kind")]


@mirrors(OutboxEntry, narrowed={"status": WRITE_STATUSES}, added={"proposal"})
class ProposalWriteOut(WriteOut):
    proposal: str = Field(description="the proposal's id, derived on chain from this node's account and a key",
                          examples=["0x" + "5a" * 32])


class ConsumerIn(Body):
    address: Address
    organisation: Text
    contact: Text
    purpose: Text


class ReasonIn(Body):
    reason: Text


class AccountIn(Body):
    address: Address
