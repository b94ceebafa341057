"""Request and response bodies of the API, with examples for the OpenAPI document.

Hashes and ids are 0x-prefixed hex; addresses are checksummed; times are Unix seconds unless
named ``*_at`` as RFC 3339 date-times in UTC (:data:`UtcDateTime`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

HASH = Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32])
ADDRESS_EXAMPLE = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
MAX_NUMBER = 10**18
"""The largest time, id or count a request names: below SQL's BIGINT, and a round number, so
that clients that read the schema's bounds as doubles (most JSON tooling) read them exactly."""
MAX_PRICE = 10**28
"""The largest price per use: below the chain's uint96, and round for the same reason."""


def _utc(moment: datetime) -> datetime:
    # SQLite gives back the UTC moments it was given without their zone; PostgreSQL, in its own.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
"""A moment, always answered with its zone (UTC), as the OpenAPI ``date-time`` format requires."""


class Model(BaseModel):
    """Every body of the API; a moment in it is a :data:`UtcDateTime`, never a bare datetime."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            if field.annotation is datetime or datetime in get_args(field.annotation):
                if not any(isinstance(m, AfterValidator) and m.func is _utc for m in field.metadata):
                    raise TypeError(f"{cls.__name__}.{name}: declare moments as UtcDateTime")


class Body(Model):
    """A request body: taken as its schema says, with no conversion (``0`` is no boolean)."""

    model_config = ConfigDict(strict=True)


# ---------------------------------------------------------------- datasets


class DatasetIn(Body):
    code: str = Field(min_length=1, max_length=31, pattern=r"^[a-z0-9][a-z0-9._-]*$", examples=["hospital-visits-2026"])
    name: str = Field(min_length=1, max_length=200, examples=["Hospital visits 2026"])
    category: str = Field(min_length=1, max_length=31, examples=["health"])
    grade: int = Field(ge=1, le=4, description="sensitivity grade: 1 open data ... 4 most sensitive", examples=[3])
    update_interval: int = Field(ge=0, le=2**32 - 1, description="seconds between expected versions; 0: none",
                                 examples=[86400])
    catalog: dict[str, str | list[str]] = Field(default_factory=dict, examples=[{"description": "Visits per hospital",
                                                                                 "license": "CC-BY-4.0"}])
    parents: list[Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]] = Field(
        default_factory=list, max_length=32, description="dataset ids it was derived from")
    field_classes: dict[str, Literal["id_number", "mobile", "name", "address", "email", "bank_card", "plain"]] = Field(
        default_factory=dict, examples=[{"name": "name", "id_number": "id_number", "phone": "mobile"}])
    key_fields: list[str] = Field(default_factory=list, examples=[["id_number"]])


class VersionOut(Model):
    id: int
    number: int = Field(examples=[1])
    content_root: str = Field(examples=["0x" + "cd" * 32])
    schema_hash: str
    size_bytes: int = Field(examples=[1048576])
    record_count: int = Field(examples=[10000])
    schema_: list[str] = Field(alias="schema", examples=[["name", "id_number", "phone"]])
    created_at: UtcDateTime

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class DatasetOut(Model):
    dataset_id: str = Field(examples=["0x" + "12" * 32])
    name: str
    owner_department: str = Field(examples=["health-commission"])
    category: str
    grade: int
    update_interval: int
    metadata_hash: str
    catalog: dict[str, Any]
    parents: list[str]
    field_classes: dict[str, str]
    key_fields: list[str]
    quality_rules: list[dict[str, Any]]
    frozen: bool
    created_at: UtcDateTime
    versions: list[VersionOut] = Field(default_factory=list)


class CatalogEntry(Model):
    dataset_id: str
    name: str
    owner_department: str
    category: str
    grade: int
    open: bool = Field(description="grade 1: downloadable by anyone, each download logged")
    latest_version: int | None
    updated_at: UtcDateTime | None
    fields: list[str] = Field(default_factory=list, description="the latest version's field names: a request "
                              "names those it asks for in the clear", examples=[["name", "phone", "visits"]])
    schema_hash: str | None = Field(default=None, description="the latest version's schema hash, which a request "
                                    "names as the schema its fields were chosen from")
    update_interval: int
    catalog: dict[str, Any]


class Reason(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["the purpose is covered by the data-sharing agreement"])


class Approval(Body):
    reason: str = Field(default="", max_length=2000, examples=["approved for the 2026 public health study"])
    price_per_use: int = Field(default=0, ge=0, le=MAX_PRICE, examples=[5])


class Freeze(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["a breach is being investigated"])
    frozen: bool = True


FieldName = Annotated[str, Field(min_length=1, max_length=200)]


class _Rule(Body):
    threshold: float = Field(default=1.0, ge=0, le=1, description="completeness and validity: the least share of "
                             "records that must pass")


class OneFieldRule(_Rule):
    kind: Literal["completeness", "validity"] = Field(examples=["validity"])
    fields: list[FieldName] = Field(min_length=1, max_length=1, examples=[["id_number"]])


class UniquenessRule(_Rule):
    kind: Literal["uniqueness"]
    fields: list[FieldName] = Field(min_length=1, max_length=64, json_schema_extra={"uniqueItems": True},
                                    description="the fields whose values together are unique", examples=[["id_number"]])


class TimelinessRule(_Rule):
    kind: Literal["timeliness"]
    fields: list[FieldName] = Field(default_factory=list, max_length=0)
    max_age_seconds: int = Field(ge=0, le=MAX_NUMBER, description="the oldest a version may be", examples=[86400])


QualityRuleIn = Annotated[OneFieldRule | UniquenessRule | TimelinessRule, Field(discriminator="kind")]
"""A quality rule, as its kind shapes it: what the node accepts is what the schema says."""


class QualityRuleOut(Model):
    kind: Literal["completeness", "validity", "uniqueness", "timeliness"]
    fields: list[str]
    threshold: float
    max_age_seconds: int | None


class QualityCheck(Body):
    open_issue: bool = Field(default=True, description="open an issue on-chain if the version fails")


class QualityReportOut(Model):
    id: int
    version_id: int
    passed: bool
    report: dict[str, Any]
    report_hash: str
    issue_id: str | None


class IssueOut(Model):
    issue_id: str
    dataset_id: str
    version: int
    status: str = Field(examples=["returned"])
    repaired_version: int | None
    opened_block: int


class RepairIn(Body):
    version: int = Field(ge=1, examples=[2])
    note: str = Field(default="", max_length=2000)


# ---------------------------------------------------------------- chain writes


class WriteOut(Model):
    """A chain write accepted into the node's outbox; follow it at ``/writes/{id}``."""

    id: int
    key: str = Field(examples=["approve:0x" + "34" * 32])
    kind: str = Field(examples=["approve"])
    status: Literal["pending", "signed", "confirmed", "failed"]
    tx_hash: str | None = None
    block_number: int | None = None
    error: str | None = None


class RelayIn(Body):
    raw_transaction: str = Field(pattern=r"^0x[0-9a-fA-F]+$", max_length=200_000,
                                 description="a transaction signed by the caller's own key",
                                 examples=["0x02f8b1827a6980808094..."])


class RelayParams(Model):
    """What a consumer needs to sign a transaction for ``/relay`` without reaching the chain."""

    chain_id: int = Field(examples=[31337])
    nonce: int = Field(description="the caller's next nonce, pending transactions included")
    gas_price: int
    addresses: dict[str, str] = Field(examples=[{"AccessGrants": ADDRESS_EXAMPLE}])


class RelayOut(Model):
    """A relayed transaction: pending when accepted, then mined with its outcome."""

    tx_hash: str = Field(examples=["0x" + "ab" * 32])
    function: str = Field(examples=["requestAccess"])
    status: Literal["pending", "success", "reverted"]
    block_number: int | None = Field(default=None, description="the block it was mined in, once mined")
    error: str | None = Field(default=None, description="the contract's custom error when reverted")
    follow: str = Field(description="GET it until the status is no longer pending", examples=["/relay/0x" + "ab" * 32])


# ---------------------------------------------------------------- review and grants


class QueueItemOut(Model):
    grant_id: str
    dataset_id: str
    owner_department: str
    grade: int
    grantee: str = Field(examples=[ADDRESS_EXAMPLE])
    waiting_for: Literal["owner", "coordinator"]
    purpose_hash: str
    fields: list[str] = Field(description="the fields the grant would leave in the clear, by name; all others are "
                              "masked", examples=[["visits"]])
    actions: int
    duration: int
    max_uses: int
    requested_block: int


class GrantOut(Model):
    grant_id: str
    dataset_id: str
    grantee: str
    status: str = Field(examples=["active"])
    fields: list[str] = Field(description="the fields left in the clear, by name", examples=[["visits"]])
    actions: int
    duration: int
    max_uses: int
    uses: int
    expires_at: int | None
    price_per_use: str


class DeliveryIn(Body):
    version: int | None = Field(default=None, ge=1, description="default: the latest")
    public_key: str | None = Field(default=None, pattern=r"^0x([0-9a-fA-F]{66}|[0-9a-fA-F]{128}|[0-9a-fA-F]{130})$",
                                   description="secp256k1 public key to encrypt to; must be the grantee's own")


class DeliveryOut(Model):
    delivery_id: str
    grant_id: str
    dataset_id: str
    consumer: str
    kind: str = Field(examples=["csv"])
    encrypted: bool
    rows: int
    size: int
    evidence_hash: str = Field(description="sha256 of exactly the bytes delivered, recorded on-chain as the use")
    download: str = Field(examples=["/deliveries/0x" + "56" * 32 + "/content"])


class UseOut(Model):
    id: int
    grant_id: str
    dataset_id: str | None
    consumer: str | None
    actor: str
    action: str = Field(examples=["download"])
    evidence_hash: str
    sequence: int | None
    refused: str | None = Field(examples=[None, "quota_exhausted"])
    block_number: int
    block_time: int | None
    tx_hash: str


# ---------------------------------------------------------------- audit


class Verification(Model):
    ok: bool
    problems: list[str] = Field(default_factory=list)


class TraceItemOut(Model):
    id: int
    block_number: int
    block_hash: str
    block_time: int | None
    tx_hash: str
    log_index: int
    contract: str = Field(examples=["UsageLog"])
    contract_address: str
    name: str = Field(examples=["UseRecorded"])
    args: dict[str, Any]
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    verification: Verification | None = None


class PositionOut(Model):
    block_number: int
    log_index: int | None = Field(description="null: the whole block")


class CompletenessOut(Model):
    """The trace's items compared with the chain's, read by indexed topic up to the block the
    index stands on: the whole trace's counts, and the page's span of the chain item by item (on
    the first page, the whole trace when the counts differ). Read every page with ``verify`` to
    compare every item."""

    ok: bool
    scope: Literal["page", "trace"] = Field(description="what was compared item by item")
    block_number: int = Field(description="the last block the index took from the chain")
    on_chain: int = Field(description="the trace's events on chain up to that block")
    in_index: int = Field(description="the trace's events in this node's index")
    after: PositionOut | None = Field(description="the span compared starts after this (null: at the start)")
    through: PositionOut | None = Field(description="and ends with this")
    missing: int = Field(description="events on chain that the index lacks here")
    extra: int = Field(description="events in the index that the chain does not file here")
    changed: int = Field(description="differences in the columns that file an event, or in chain order")
    problems: list[str] = Field(default_factory=list)


class LineageOut(Model):
    parents: list[str]
    children: list[str]


class TracePage(Model):
    subject: str
    items: list[TraceItemOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")
    lineage: LineageOut | None = None
    complete: CompletenessOut | None = Field(default=None, description="with ``verify``: whether the trace is complete")


class AlertOut(Model):
    id: int
    kind: str = Field(examples=["quota"])
    severity: str
    message: str
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    block_number: int | None
    created_at: UtcDateTime


class AttributionOut(Model):
    delivery_id: str
    grant_id: str
    consumer: str
    dataset_id: str
    score: float = Field(examples=[1.0])
    p_value: float
    runner_up_score: float | None
    bits: int
    rows: int
    confident: bool


class StatementIn(Body):
    consumer: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=[ADDRESS_EXAMPLE])
    period_start: int = Field(ge=0, le=MAX_NUMBER, examples=[1798761600])
    period_end: int = Field(gt=0, le=MAX_NUMBER, examples=[1801440000])


class StatementOut(Model):
    statement_id: str
    statement_hash: str
    amount: str
    body: dict[str, Any]


class StatementCheckIn(Body):
    body: dict[str, Any] = Field(description="the statement's body, exactly as its department issued it")


class StatementCheckOut(Model):
    """A statement that holds against the chain; one that does not is refused with a 422."""

    statement_id: str
    statement_hash: str = Field(description="the hash its department acknowledged on-chain")
    amount: str
    lines: int


class WorkerHealthOut(Model):
    """One background loop of the node."""

    status: Literal["ok", "starting", "retrying", "stalled", "stopped"] = Field(description=(
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


# ---------------------------------------------------------------- staff


StaffRole = Literal["admin", "reviewer", "steward", "viewer"]
Username = Annotated[str, Field(pattern=r"^[a-z0-9._-]{3,64}$", examples=["reviewer.li"])]
Password = Annotated[str, Field(min_length=12, max_length=1024, examples=["correct horse battery staple"])]


class StaffIn(Body):
    username: Username
    password: Password
    role: StaffRole = Field(description="admin: manages staff, may do everything; reviewer: review decisions and "
                            "freezes; steward: datasets, versions, quality, statements; viewer: reads")


class StaffOut(Model):
    username: str = Field(examples=["reviewer.li"])
    role: StaffRole
    disabled: bool
    created_at: UtcDateTime


class PasswordIn(Body):
    password: Password


class RoleIn(Body):
    role: StaffRole
