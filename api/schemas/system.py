"""Bodies of the node's health and of its staff accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from api.schemas.base import Body, Model, UtcDateTime
from api.schemas.mirror import literal_of, mirrors
from node.models import STAFF_ROLES, StaffAccount
from node.supervision import Status, WorkerHealth


@mirrors(WorkerHealth)
class WorkerHealthOut(Model):
    """One background loop of the node."""

    status: Status = Field(description=(
        "ok: stepping; starting: no step done yet; retrying: failing, retried with backoff; stalled: no "
        "successful step for longer than the node's stall bound; stopped: not running"))
    last_success_age: float | None = Field(description="seconds since its last successful step; null: none yet")
    last_error: str | None = Field(description="what its last failed step raised (no secrets)")
    last_error_age: float | None = Field(description="seconds since that failure")
    failures: int = Field(description="failed steps in a row; 0 when the last one succeeded")


class Health(Model):
    """200 when the node can record uses, 503 (the same body, with ``Retry-After``) when it cannot."""

    status: Literal["ok", "degraded", "unavailable"] = Field(description=(
        "ok; degraded: it records uses, but a background loop fails or lags; unavailable: it cannot record "
        "uses now (see reasons) and refuses deliveries and other chain writes with 503"))
    department: str
    chain_id: int
    head: int | None = Field(description="the chain's latest block; null when the chain does not answer")
    indexed: int | None = Field(description="the last block indexed")
    outbox_open: int = Field(description="chain writes accepted and not yet confirmed")
    chain_reachable: bool
    chain_error: str | None = Field(description="why the chain did not answer")
    head_age: float | None = Field(description="seconds since the head block's time")
    index_lag: int | None = Field(description="blocks between the head and the last block indexed")
    outbox_oldest_age: float | None = Field(description="seconds the oldest open chain write has waited")
    outbox_limit: int = Field(description="open chain writes above which the node refuses new ones")
    workers: dict[str, WorkerHealthOut] = Field(description="outbox, indexer, monitor, anchors")
    reasons: list[str] = Field(description="why the node cannot record uses now; empty when it can")


class DepartmentOut(Model):
    """A member department as the chain names it."""

    code: str = Field(examples=["civil-affairs"], description="its code: the node's department id")
    name: str = Field(examples=["民政局"], description="its name on chain")
    this_node: bool = Field(description="whether this node serves it")


if TYPE_CHECKING:
    StaffRole = str
else:
    StaffRole = literal_of(STAFF_ROLES)


Username = Annotated[str, Field(pattern=r"^[a-z0-9._-]{3,64}$", examples=["reviewer.li"])]


Password = Annotated[str, Field(min_length=12, max_length=1024, examples=["correct horse battery staple"])]


class StaffIn(Body):
    username: Username
    password: Password
    role: StaffRole = Field(description="admin: manages staff, may do everything; reviewer: review decisions and "
                            "freezes; steward: datasets, versions, quality, statements; viewer: reads")


@mirrors(StaffAccount, narrowed={"role": STAFF_ROLES})
class StaffOut(Model):
    username: str = Field(examples=["reviewer.li"])
    role: StaffRole
    disabled: bool
    created_at: UtcDateTime


class PasswordIn(Body):
    password: Password


class RoleIn(Body):
    role: StaffRole
