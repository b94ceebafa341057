"""Bodies of chain writes and relayed transactions, of review and grants, deliveries, uses and
settlement statements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, computed_field

from api.schemas.base import ADDRESS_EXAMPLE, MAX_NUMBER, MAX_PRICE, Body, Model
from api.schemas.mirror import literal_of, mirrors
from ledger.clients import Action
from node.access.query_grants import Bound, GrantQueries, QueryLine, QueryTerms, RefusedLine
from node.access.queue import COORDINATOR, OWNER, Decision, Department, QueueItem
from node.audit.monitor import UsageEvent
from node.chain.outbox import CONFIRMED, FAILED, PENDING, SIGNED
from node.chain.relay import Relayed
from node.models import Delivery, Grant, OutboxEntry, Statement
from node.query import QueryResult, epsilon_text

WRITE_STATUSES = (PENDING, SIGNED, CONFIRMED, FAILED)
WAITING_FOR = (OWNER, COORDINATOR)
if TYPE_CHECKING:
    WriteStatus = str
    WaitingFor = str
else:
    WriteStatus = literal_of(WRITE_STATUSES)
    WaitingFor = literal_of(WAITING_FOR)


@mirrors(OutboxEntry, narrowed={"status": WRITE_STATUSES})
class WriteOut(Model):
    """A chain write accepted into the node's outbox; follow it at ``/writes/{id}``."""

    id: int
    key: str = Field(examples=["approve:0x" + "34" * 32])
    kind: str = Field(examples=["approve"])
    status: WriteStatus
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


@mirrors(Relayed, added=("follow",))
class RelayOut(Model):
    """A relayed transaction: pending when accepted, then mined with its outcome."""

    tx_hash: str = Field(examples=["0x" + "ab" * 32])
    function: str = Field(examples=["requestAccess"])
    status: Literal["pending", "success", "reverted"]
    block_number: int | None = Field(default=None, description="the block it was mined in, once mined")
    error: str | None = Field(default=None, description="the contract's custom error when reverted")
    follow: str = Field(description="GET it until the status is no longer pending", examples=["/relay/0x" + "ab" * 32])


class Reason(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["the purpose is covered by the data-sharing agreement"])


class Approval(Body):
    reason: str = Field(default="", max_length=2000, examples=["approved for the 2026 public health study"])
    price_per_use: int = Field(default=0, ge=0, le=MAX_PRICE, examples=[5])


@mirrors(Department)
class DepartmentRef(Model):
    id: str = Field(description="the department's bytes32 id on chain")
    code: str = Field(examples=["civil-affairs"])
    name: str = Field(description="its name on chain", examples=["民政局"])


@mirrors(Decision)
class DecisionOut(Model):
    department: DepartmentRef
    reviewer: str = Field(description="the account that approved", examples=[ADDRESS_EXAMPLE])
    block: int
    at: int | None = Field(description="the block's time, seconds since the epoch")
    reason: str | None = Field(description="the reason's text, if one was given")
    price_per_use: str


@mirrors(Bound)
class BoundOut(Model):
    field: str = Field(examples=["年龄"])
    low: str = Field(examples=["0"])
    high: str = Field(examples=["120"])


@mirrors(QueryTerms)
class QueryTermsOut(Model):
    """A query grant's privacy terms, ε as decimal text."""

    epsilon_budget: str = Field(description="ε the grant's queries may spend in all", examples=["5"])
    epsilon_cap: str = Field(description="the most ε one query may spend", examples=["1"])
    min_group_size: int = Field(description="k: groups of fewer rows are never released", examples=[10])
    bounds: list[BoundOut] | None = Field(description="the clamping bounds of numeric fields (None: their text on "
                                          "chain is not readable as bounds)")
    bounds_text: str = Field(description="the bounds' JSON text, as asked for on chain", examples=['{"年龄":[0,120]}'])
    words: str = Field(description="the terms in words", examples=[
        "query grant: ε budget 5, at most 1 per query, groups of at least 10, bounds 年龄 0–120"])


@mirrors(QueueItem, narrowed={"waiting_for": WAITING_FOR})
class QueueItemOut(Model):
    grant_id: str
    dataset_id: str
    dataset_name: str | None = Field(description="None if this node knows no catalog entry for it")
    category: str | None
    grade: int
    owner_department: DepartmentRef
    grantee: str = Field(examples=[ADDRESS_EXAMPLE])
    sponsor: DepartmentRef | None = Field(description="the department that registered the consumer (or that "
                                          "the requesting service account serves)")
    waiting_for: WaitingFor
    purpose: str | None = Field(description="the consumer's purpose, as written in its request on chain",
                                examples=["2026年社区卫生服务规划"])
    purpose_hash: str = Field(description="keccak256 of the purpose's UTF-8 bytes, as the grant keeps it")
    fields: list[str] = Field(description="the fields the grant would leave in the clear, by name",
                              examples=[["visits"]])
    masked_fields: list[str] | None = Field(description="the dataset's personal-data fields that stay masked "
                                            "(None: not known on this node)")
    actions: int = Field(description="the actions asked for, as the chain's bitmask (see action_names)")
    duration: int = Field(description="seconds")
    duration_days: float
    max_uses: int
    requested_block: int
    owner_decision: DecisionOut | None = Field(description="for a co-approval: the owner's approval")
    query_terms: QueryTermsOut | None = Field(default=None, description="a query grant's privacy terms")

    @computed_field(description="the actions, by name", examples=[["download", "query"]])  # type: ignore[prop-decorator]
    @property
    def action_names(self) -> list[str]:
        return Action.names(self.actions)


def _epsilon(micro: Any) -> Any:
    # The index keeps micro-ε integers, as the chain does; people and clients read decimal ε.
    return epsilon_text(micro) if isinstance(micro, int) and not isinstance(micro, bool) else micro


EpsilonOut = Annotated[str, BeforeValidator(_epsilon)]
"""ε as decimal text (``"0.5"``, ``"5"``), as every route speaks it; made from the micro-ε
integers the index and the chain keep (:func:`node.query.epsilon_text`)."""


@mirrors(Grant, converted=("epsilon_budget", "epsilon_cap"))
class GrantOut(Model):
    grant_id: str
    dataset_id: str
    grantee: str
    status: str = Field(examples=["active"])
    fields: list[str] = Field(description="the fields left in the clear, by name", examples=[["visits"]])
    actions: int = Field(description="the actions allowed, as the chain's bitmask (see action_names)")
    duration: int
    max_uses: int
    uses: int
    expires_at: int | None
    price_per_use: str
    epsilon_budget: EpsilonOut | None = Field(default=None, description="a query grant's ε budget, as decimal text",
                                              examples=["5"])
    epsilon_cap: EpsilonOut | None = Field(default=None, description="the most ε one query of it may spend, as "
                                           "decimal text", examples=["0.5"])
    min_group_size: int | None = Field(default=None, description="k: smaller groups are never released")
    bounds: str | None = Field(default=None, description="the clamping bounds per numeric field, JSON text",
                               examples=['{"年龄":[0,120]}'])

    @computed_field(description="the actions, by name", examples=[["download", "query"]])  # type: ignore[prop-decorator]
    @property
    def action_names(self) -> list[str]:
        return Action.names(self.actions)


class DeliveryIn(Body):
    version: int | None = Field(default=None, ge=1, description="default: the latest")
    public_key: str | None = Field(default=None, pattern=r"^0x([0-9a-fA-F]{66}|[0-9a-fA-F]{128}|[0-9a-fA-F]{130})$",
                                   description="secp256k1 public key to encrypt to; must be the grantee's own")
    encoding: Literal["source", "utf-8"] = Field(default="utf-8", description="the copy's text encoding: the "
                                                 "source version's (GBK stays GBK) or UTF-8")


class QueryIn(Body):
    sql: str = Field(min_length=1, max_length=20_000, description="one aggregate SELECT over the table `data`",
                     examples=["SELECT 区县, COUNT(*) AS n FROM data GROUP BY 区县"])
    epsilon: Annotated[str, Field(max_length=40)] | float = Field(description="ε to spend, as decimal text or a number: at most the grant's cap, to "
                                 "the millionth (counted in micro-ε on chain)", examples=["0.5"])
    version: int | None = Field(default=None, ge=1, le=MAX_NUMBER, description="default: the latest")


@mirrors(QueryResult, added=("write",), converted=("rows", "epsilon", "query_hash", "result_json", "result_hash"))
class QueryOut(Model):
    """A released result: ``result_json`` is its canonical JSON, exactly the bytes whose keccak256
    (``result_hash``) is recorded on chain with ``query_hash``, the keccak256 of ``normalised_sql``."""

    columns: list[str]
    rows: list[list[Any]]
    release_threshold: int = Field(description="τ: a group went out only if its noisy row count reached this "
                                   "(at least k; set by k and ε, never by the data, so how many groups were left "
                                   "out is not told)", examples=[15])
    rows_scanned: int
    epsilon: str = Field(examples=["0.5"])
    normalised_sql: str
    query_hash: str
    result_json: str
    result_hash: str
    write: WriteOut = Field(description="the record of the query on chain, as a use of the grant")


@mirrors(QueryLine)
class QueryLineOut(Model):
    """A query recorded on chain under its grant."""

    sequence: int = Field(description="its number among the grant's uses")
    block_number: int
    block_time: int | None
    epsilon: str = Field(examples=["0.5"])
    rows_scanned: int
    query_hash: str = Field(description="keccak256 of the normalised SQL, as recorded")
    result_hash: str = Field(description="keccak256 of the released result's canonical JSON, as recorded")
    sql: str | None = Field(description="the normalised SQL, where the owner's node ran the query and kept it")
    tx_hash: str


@mirrors(RefusedLine)
class RefusedLineOut(Model):
    """A query the owner's node refused under its grant, recorded on chain as an attempt: nothing was spent."""

    block_number: int
    block_time: int | None
    reason: str = Field(description="why, in words", examples=["SQL reading an identifying field"])
    query_hash: str = Field(description="keccak256 of the SQL as normalised (of the raw text when it does not "
                                        "parse as one statement), as recorded")
    sql: str | None = Field(description="that SQL, where the owner's node refused the query and kept it")
    tx_hash: str


@mirrors(GrantQueries)
class GrantQueriesOut(Model):
    """A query grant with its dataset, purpose, terms, ε spent, queued and left, and its queries."""

    grant_id: str
    dataset_id: str
    dataset_name: str = Field(examples=["低保对象名册"])
    grantee: str = Field(examples=[ADDRESS_EXAMPLE])
    status: str = Field(examples=["active"])
    purpose: str | None = Field(examples=["2026年社会救助统计"])
    fields: list[str]
    uses: int
    max_uses: int
    terms: QueryTermsOut
    epsilon_spent: str = Field(description="ε spent on chain", examples=["1.5"])
    epsilon_queued: str = Field(description="ε of queries run whose record is not on chain yet", examples=["0"])
    epsilon_left: str = Field(examples=["3.5"])
    queries: list[QueryLineOut]
    refused: list[RefusedLineOut] = Field(description="the queries the owner's node refused, oldest first")


@mirrors(Delivery, added=("download",))
class DeliveryOut(Model):
    delivery_id: str
    grant_id: str
    dataset_id: str
    consumer: str
    kind: str = Field(examples=["csv"])
    encoding: str | None = Field(examples=["utf-8"], description="the text encoding of the copy (before encryption)")
    encrypted: bool
    rows: int
    size: int
    evidence_hash: str = Field(description="sha256 of exactly the bytes delivered, recorded on-chain as the use")
    download: str = Field(examples=["/deliveries/0x" + "56" * 32 + "/content"])


@mirrors(UsageEvent)
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


class StatementIn(Body):
    consumer: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=[ADDRESS_EXAMPLE])
    period_start: int = Field(ge=0, le=MAX_NUMBER, examples=[1798761600])
    period_end: int = Field(gt=0, le=MAX_NUMBER, examples=[1801440000])


@mirrors(Statement)
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
