"""Typed clients, one per contract: Python methods in, dataclasses out, custom errors raised
as :class:`ledger.errors.ContractError` with the error's name and arguments."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, ClassVar

from eth_abi.exceptions import EncodingError
from eth_utils.abi import function_abi_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import TxReceipt

from ledger.errors import ChainReadFailed
from ledger.revert import ErrorDecoder
from ledger.rpc import RpcBatcher
from ledger.tx import Call, SentTransaction, TransactionSender

# ---------------------------------------------------------------- enums, as in the contracts


class GrantStatus(IntEnum):
    NONE = 0
    PENDING = 1
    AWAITING_CO_APPROVAL = 2
    ACTIVE = 3
    REJECTED = 4
    WITHDRAWN = 5
    REVOKED = 6


class Action(IntEnum):
    COLLECT = 0
    STORE = 1
    MANAGE = 2
    SHARE = 3
    OPEN = 4
    ANALYSE = 5
    SETTLE = 6
    QUERY = 7
    DOWNLOAD = 8

    @staticmethod
    def mask(*actions: Action) -> int:
        """The grant bitmask allowing ``actions``."""
        bits = 0
        for action in actions:
            bits |= 1 << int(action)
        return bits

    @staticmethod
    def names(mask: int) -> list[str]:
        """The actions the grant bitmask ``mask`` allows, by lower-case name (``query``,
        ``download``): how people read it."""
        return [action.name.lower() for action in Action if mask >> int(action) & 1]


class Refusal(IntEnum):
    NONE = 0
    UNKNOWN_GRANT = 1
    CALLER_NOT_ALLOWED = 2
    REVOKED = 3
    NOT_ACTIVE = 4
    EXPIRED = 5
    DATASET_FROZEN = 6
    ACTION_NOT_GRANTED = 7
    QUOTA_EXHAUSTED = 8
    GRANTEE_REMOVED = 9
    NO_PRIVACY_TERMS = 10
    EPSILON_OVER_CAP = 11
    BUDGET_EXHAUSTED = 12


class QueryRefusal(IntEnum):
    """``IUsageLog.QueryRefusal``: why the owner's node refused to run a query. The query hash
    recorded with it is of the normalised SQL, but for ``SQL_UNREADABLE`` of the raw text."""

    SQL_NOT_ALLOWED = 0
    IDENTIFYING_FIELD = 1
    SQL_UNREADABLE = 2
    EPSILON_OVER_CAP = 3
    BUDGET_EXHAUSTED = 4
    QUOTA_EXHAUSTED = 5
    NO_PRIVACY_TERMS = 6
    GRANT_NOT_ALLOWING = 7

    @property
    def words(self) -> str:
        """The reason as people read it: the trace, PROV, the queries pages and the CLI say these."""
        return _QUERY_REFUSAL_WORDS[self]


_QUERY_REFUSAL_WORDS = {
    QueryRefusal.SQL_NOT_ALLOWED: "SQL not allowed",
    QueryRefusal.IDENTIFYING_FIELD: "SQL reading an identifying field",
    QueryRefusal.SQL_UNREADABLE: "SQL not readable as one statement",
    QueryRefusal.EPSILON_OVER_CAP: "ε over the grant's cap per query",
    QueryRefusal.BUDGET_EXHAUSTED: "ε budget spent",
    QueryRefusal.QUOTA_EXHAUSTED: "quota of uses spent",
    QueryRefusal.NO_PRIVACY_TERMS: "the grant has no privacy terms",
    QueryRefusal.GRANT_NOT_ALLOWING: "the grant allows no query now",
}


def query_refusal_words(reason: object) -> str:
    """A ``QueryRefused`` event's reason code in words (a code unknown here as itself)."""
    try:
        return QueryRefusal(int(str(reason))).words
    except ValueError:
        return f"reason {reason}"


class AnchorKind(IntEnum):
    DATASET_VERSIONS = 0
    DELIVERY_RECEIPTS = 1
    LIFECYCLE_EVIDENCE = 2
    QUALITY_REPORTS = 3
    SETTLEMENT_STATEMENTS = 4


class IssueStatus(IntEnum):
    NONE = 0
    OPEN = 1
    RETURNED = 2
    REPAIRED = 3
    CLOSED = 4


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Department:
    name: str
    validator: str
    active: bool
    admitted_at: int


@dataclass(frozen=True)
class Proposal:
    """``IConsortium.Proposal``: ``kind`` 0 admits, 1 removes; ``status`` 1 open, 2 executed."""

    kind: int
    status: int
    yes_votes: int
    quorum: int
    deadline: int
    department_id: bytes
    validator: str
    service_account: str
    proposer: str
    name: str


@dataclass(frozen=True)
class Dataset:
    owner_department: bytes
    metadata_hash: bytes
    category: bytes
    grade: int
    frozen: bool
    frozen_by_coordinator: bool
    update_interval: int
    version_count: int
    registered_at: int


@dataclass(frozen=True)
class Version:
    content_root: bytes
    schema_hash: bytes
    size_bytes: int
    record_count: int
    anchored_at: int


@dataclass(frozen=True)
class Rights:
    ownership_holder: bytes
    usage_right_holders: tuple[bytes, ...] = ()
    revenue_beneficiary: str = "0x0000000000000000000000000000000000000000"

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.ownership_holder, list(self.usage_right_holders), self.revenue_beneficiary)


@dataclass(frozen=True)
class Grant:
    grantee: str
    status: GrantStatus
    actions: int
    expires_at: int
    max_uses: int
    duration: int
    requested_at: int
    price_per_use: int
    dataset_id: bytes
    purpose_hash: bytes
    fields_hash: bytes
    schema_hash: bytes


@dataclass(frozen=True)
class PrivacyTerms:
    """``IAccessGrants.PrivacyTerms`` of a query grant: ε in micro-ε (1 ε = 1,000,000), k, and
    the bounds as JSON text (the chain keeps its hash, the event the text)."""

    epsilon_budget: int
    epsilon_cap: int
    min_group_size: int
    bounds: str = "{}"

    def as_tuple(self) -> tuple[int, int, int, str]:
        return (self.epsilon_budget, self.epsilon_cap, self.min_group_size, self.bounds)


@dataclass(frozen=True)
class GrantPrivacy:
    """What the chain keeps of a grant's privacy terms (``AccessGrants.privacyTerms``); all
    zero for a grant without them."""

    epsilon_budget: int
    epsilon_cap: int
    min_group_size: int
    bounds_hash: bytes

    @property
    def present(self) -> bool:
        """Whether the grant has privacy terms (a query grant's cap is never zero)."""
        return self.epsilon_cap != 0


@dataclass(frozen=True)
class QueryInput:
    """``IUsageLog.QueryInput``: one query run at the owner's node, with the ε it spent."""

    grant_id: bytes
    query_hash: bytes
    result_hash: bytes
    epsilon: int
    rows_scanned: int

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int, int]:
        return (self.grant_id, self.query_hash, self.result_hash, self.epsilon, self.rows_scanned)


@dataclass(frozen=True)
class RefusedQueryInput:
    """``IUsageLog.RefusedQueryInput``: one query the owner's node refused, and why."""

    grant_id: bytes
    query_hash: bytes
    reason: QueryRefusal

    def as_tuple(self) -> tuple[bytes, bytes, int]:
        return (self.grant_id, self.query_hash, int(self.reason))


@dataclass(frozen=True)
class Use:
    grant_id: bytes
    action: Action
    evidence_hash: bytes

    def as_tuple(self) -> tuple[bytes, int, bytes]:
        return (self.grant_id, int(self.action), self.evidence_hash)


@dataclass(frozen=True)
class Statement:
    statement_id: bytes
    owner_department: bytes
    consumer: str
    period_start: int
    period_end: int
    amount: int
    statement_hash: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.statement_id, self.owner_department, self.consumer, self.period_start,
                self.period_end, self.amount, self.statement_hash)


@dataclass(frozen=True)
class Anchor:
    department: bytes
    by: str
    leaf_count: int
    kind: AnchorKind
    anchored_at: int
    block_number: int


@dataclass(frozen=True)
class Issue:
    dataset_id: bytes
    source_department: bytes
    opener_department: bytes
    opener: str
    version: int
    repaired_version: int
    status: IssueStatus
    opened_at: int
    report_hash: bytes


# ---------------------------------------------------------------- base


def _abi_type(param: dict[str, Any]) -> str:
    """An ABI parameter's type as eth-abi reads it, tuples spelled out."""
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + str(param["type"])[len("tuple"):]
    return str(param["type"])


class ContractClient:
    """Calls and transactions on one deployed contract, with errors decoded."""

    contract_name: ClassVar[str]

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]], sender: TransactionSender | None = None,
                 errors: ErrorDecoder | None = None, rpc: Callable[[], RpcBatcher] | None = None) -> None:
        self.w3 = w3
        self._rpc = rpc
        self.contract: Contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        self.sender = sender
        self.errors = errors or (sender.errors if sender else ErrorDecoder().add_abi(self.contract_name, abi))
        self._encodings: dict[str, tuple[bytes, list[str]]] = {}

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @property
    def rpc(self) -> RpcBatcher:
        """The JSON-RPC batcher of the :class:`ledger.deploy.Ledger` this client belongs to."""
        if self._rpc is None:
            raise ValueError(f"{self.contract_name} client at {self.address} has no batcher: build it through a Ledger")
        return self._rpc()

    def _call(self, function: str, *args: Any, block: int | None = None) -> Any:
        """The view's answer at ``block`` (the latest when None)."""
        try:
            return self.contract.get_function_by_name(function)(*args).call(
                block_identifier=block if block is not None else "latest")
        except Web3Exception as err:
            raise self.errors.from_web3(err) from err

    def call_many(self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: int | None = None) -> list[Any]:
        """The answers of many views, read in one JSON-RPC batch: each a decoded value (a tuple
        for a struct or several outputs), or the :class:`ContractError` (or
        :class:`ChainReadFailed`) it reverted with, for the caller to take or raise."""
        functions = [self.contract.get_function_by_name(name)(*args) for name, args in calls]
        at = hex(block) if block is not None else "latest"
        replies = self.rpc.call([("eth_call", [{"to": self.address, "data": f._encode_transaction_data()}, at])
                                 for f in functions])
        answers: list[Any] = []
        for (name, _), function, reply in zip(calls, functions, replies):
            if reply.error is not None:
                data = reply.error.get("data")
                data = data.get("data") if isinstance(data, dict) else data
                decoded = self.errors.decode(data) if isinstance(data, str) else None
                answers.append(decoded or ChainReadFailed(f"{self.contract_name}.{name}", reply.message))
                continue
            types = [_abi_type(o) for o in function.abi["outputs"]]
            values = self.w3.codec.decode(types, bytes.fromhex(str(reply.result).removeprefix("0x")))
            answers.append(values[0] if len(values) == 1 else tuple(values))
        return answers

    def encode_call(self, function: str, *args: Any) -> Call:
        """``function(*args)`` as calldata, encoded by eth-abi alone with the selector and types
        read once per function. web3's contract functions check and normalise every argument
        against the ABI each time: for a batch of 500 uses that costs more than the chain takes
        to run it. The arguments must already be what eth-abi takes (bytes for ``bytes32``,
        tuples for structs); the same call through web3 encodes to the same bytes."""
        if function not in self._encodings:
            abi = self.contract.get_function_by_name(function).abi
            self._encodings[function] = (function_abi_to_4byte_selector(abi), [_abi_type(i) for i in abi["inputs"]])
        selector, types = self._encodings[function]
        try:
            return Call(self.address, selector + self.w3.codec.encode(types, args))
        except EncodingError as err:
            raise ValueError(f"{self.contract_name}.{function}: arguments do not fit the ABI: {err}") from err

    def _send(self, function: str, *args: Any) -> TxReceipt:
        return self._sender().transact(self.contract.get_function_by_name(function)(*args))

    def _submit(self, function: str, *args: Any, gas: int | None = None) -> SentTransaction:
        return self._sender().send(self.contract.get_function_by_name(function)(*args), gas=gas)

    def _sender(self) -> TransactionSender:
        if self.sender is None:
            raise RuntimeError(f"{self.contract_name} client at {self.address} is read-only: no sender given")
        return self.sender
