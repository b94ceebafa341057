"""The kinds of chain write the outbox carries: how to build each call from its stored
payload, and how to tell whether the chain already holds its effect.

"Already on chain" always means done by this node's department, with these terms: ids are
derived from or kept per their creator on chain, and each check compares what the chain holds
(owner, root, leaf count, schema, the batch under this account) with the payload. Anything else
is a failure that is reported, never counted as success."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract.contract import ContractFunction

from ledger.clients import GrantStatus, IssueStatus
from ledger.deploy import Ledger
from ledger.errors import ContractError
from ledger.tx import Call


def b32(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.removeprefix("0x"))


@dataclass(frozen=True)
class WriteKind:
    name: str
    gas: Callable[[dict[str, Any]], int]
    call: Callable[[Ledger, dict[str, Any]], ContractFunction]
    applied: Callable[[Ledger, dict[str, Any]], bool]
    """Whether the chain holds the write's effect; read when a send reverted."""
    encode: Callable[[Ledger, dict[str, Any]], Call] | None = None
    """The same call encoded by eth-abi alone, for a kind sent at volume (uses): web3 checks
    every argument of a batch of 500 uses against the ABI, for ~100 ms a batch."""

    def transaction(self, ledger: Ledger, payload: dict[str, Any]) -> ContractFunction | Call:
        """What the outbox signs for ``payload``: the cheaper encoding where the kind has one."""
        return self.encode(ledger, payload) if self.encode is not None else self.call(ledger, payload)


def _fn(ledger: Ledger, contract: str, name: str) -> Callable[..., ContractFunction]:
    client = getattr(ledger, contract)
    return client.contract.get_function_by_name(name)  # type: ignore[no-any-return]


def _exists(view: Callable[[Ledger, dict[str, Any]], object], missing: str) -> Callable[[Ledger, dict[str, Any]], bool]:
    """Whether ``view`` answers, rather than reverting with the custom error ``missing``."""

    def check(ledger: Ledger, payload: dict[str, Any]) -> bool:
        try:
            view(ledger, payload)
        except ContractError as err:
            if err.name == missing:
                return False
            raise
        return True

    return check


def _sender(ledger: Ledger) -> str:
    assert ledger.sender is not None, "the outbox writes with a sender"
    return ledger.sender.address


def _dataset_is_mine(ledger: Ledger, payload: dict[str, Any]) -> bool:
    """The dataset is on chain, owned by the payload's department, with its metadata."""
    try:
        dataset = ledger.registry.dataset(b32(payload["dataset_id"]))
    except ContractError as err:
        if err.name == "RegistryUnknownDataset":
            return False
        raise
    return (dataset.owner_department == b32(payload["owner_department"])
            and dataset.metadata_hash == b32(payload["metadata_hash"]))


def _version_is_mine(ledger: Ledger, payload: dict[str, Any]) -> bool:
    """A version of the (own) dataset anchors the root, with the payload's schema, size and records."""
    dataset = b32(payload["dataset_id"])
    number = ledger.registry.version_of_root(dataset, b32(payload["content_root"]))
    if number == 0:
        return False
    version = ledger.registry.version(dataset, number)
    return (version.schema_hash, version.size_bytes, version.record_count) == (
        b32(payload["schema_hash"]), payload["size_bytes"], payload["record_count"])


def _anchor_is_mine(ledger: Ledger, payload: dict[str, Any]) -> bool:
    department = ledger.consortium.department_of(_sender(ledger))
    try:
        anchor = ledger.anchors.anchor_of(department, b32(payload["root"]))
    except ContractError as err:
        if err.name == "AnchorUnknownRoot":
            return False
        raise
    return bool(anchor.leaf_count == payload["leaf_count"] and int(anchor.kind) == payload["kind"])


def _grant_in(*statuses: GrantStatus) -> Callable[[Ledger, dict[str, Any]], bool]:
    return lambda l, p: l.grants.grant(b32(p["grant_id"])).status in statuses


def _issue_in(*statuses: IssueStatus) -> Callable[[Ledger, dict[str, Any]], bool]:
    return lambda l, p: l.quality.issue(b32(p["issue_id"])).status in statuses


def _use_tuples(payload: dict[str, Any]) -> list[tuple[bytes, int, bytes]]:
    """A ``record_uses`` payload's uses as the ABI's ``UseInput`` tuples."""
    return [(b32(u["grant_id"]), u["action"], b32(u["evidence_hash"])) for u in payload["uses"]]


def _query_tuples(payload: dict[str, Any]) -> list[tuple[bytes, bytes, bytes, int, int]]:
    """A ``record_queries`` payload's queries as the ABI's ``QueryInput`` tuples."""
    return [(b32(q["grant_id"]), b32(q["query_hash"]), b32(q["result_hash"]), q["epsilon"], q["rows_scanned"])
            for q in payload["queries"]]


def _refusal_tuples(payload: dict[str, Any]) -> list[tuple[bytes, bytes, int]]:
    """A ``record_refused_queries`` payload's refusals as the ABI's ``RefusedQueryInput`` tuples."""
    return [(b32(r["grant_id"]), b32(r["query_hash"]), r["reason"]) for r in payload["refusals"]]


def _text_gas(text: str) -> int:
    """Room for a catalog text: calldata, the event's copy and its hash, with a margin."""
    return 80 * len(text.encode())


def _grant_write(name: str, function: str, *, priced: bool = False,
                 applied: Callable[[Ledger, dict[str, Any]], bool]) -> WriteKind:
    """A review decision on a grant, with the hash of its reason (and a price, approving)."""
    return WriteKind(
        name, gas=lambda p: 200_000,
        call=lambda l, p: _fn(l, "grants", function)(
            b32(p["grant_id"]), b32(p["reason_hash"]), *((p["price_per_use"],) if priced else ())),
        applied=applied,
    )


def _issue_write(name: str, function: str, applied: Callable[[Ledger, dict[str, Any]], bool]) -> WriteKind:
    return WriteKind(name, gas=lambda p: 200_000,
                     call=lambda l, p: _fn(l, "quality", function)(b32(p["issue_id"]), b32(p["note_hash"])),
                     applied=applied)


ROLES = {"auditor": "AUDITOR_ROLE", "coordinator": "COORDINATOR_ROLE"}
"""The roles the coordinator gives and takes with ``grant_role`` / ``revoke_role``, by the name a payload uses."""


def role_hash(role: str) -> bytes:
    """The bytes32 of one of :data:`ROLES` (``keccak256("AUDITOR_ROLE")``)."""
    return bytes(Web3.keccak(text=ROLES[role]))


def _consortium_write(name: str, function: str, args: Callable[[dict[str, Any]], tuple[Any, ...]],
                      applied: Callable[[Ledger, dict[str, Any]], bool], gas: int = 250_000) -> WriteKind:
    """A governance write on the Consortium contract (:mod:`node.governance`)."""
    return WriteKind(name, gas=lambda p: gas, call=lambda l, p: _fn(l, "consortium", function)(*args(p)),
                     applied=applied)


def _proposal_is_mine(ledger: Ledger, payload: dict[str, Any]) -> bool:
    """The proposal the payload's key gives this node's account is open on chain."""
    try:
        proposal = ledger.consortium.proposal(b32(payload["proposal_id"]))
    except ContractError as err:
        if err.name == "ConsortiumUnknownProposal":
            return False
        raise
    return proposal.proposer == _sender(ledger)


def _has_role(ledger: Ledger, payload: dict[str, Any]) -> bool:
    return bool(ledger.consortium.has_role(role_hash(payload["role"]), payload["account"]))


GOVERNANCE_WRITES = (
    _consortium_write("propose_admission", "proposeAdmission", lambda p: (
        b32(p["key"]), b32(p["department_id"]), p["name"], p["validator"], p["service_account"]),
        _proposal_is_mine, gas=400_000),
    _consortium_write("propose_removal", "proposeRemoval", lambda p: (b32(p["key"]), b32(p["department_id"])),
                      _proposal_is_mine, gas=400_000),
    _consortium_write("vote", "vote", lambda p: (b32(p["proposal_id"]),),
                      lambda l, p: l.consortium.has_voted(b32(p["proposal_id"]), b32(p["department_id"]))),
    # Executing a removal loops over the department's service accounts (at most 8).
    _consortium_write("execute_proposal", "execute", lambda p: (b32(p["proposal_id"]),),
                      lambda l, p: l.consortium.proposal(b32(p["proposal_id"])).status == 2, gas=600_000),
    _consortium_write("register_consumer", "registerConsumer", lambda p: (p["consumer"], b32(p["profile_hash"])),
                      lambda l, p: l.consortium.sponsor_of(p["consumer"]) == b32(p["department_id"])),
    _consortium_write("remove_consumer", "removeConsumer", lambda p: (p["consumer"],),
                      lambda l, p: not any(l.consortium.sponsor_of(p["consumer"]))),
    _consortium_write("offer_service_account", "offerServiceAccount", lambda p: (p["account"],),
                      lambda l, p: l.consortium.has_offer(b32(p["department_id"]), p["account"])
                      or l.consortium.department_of(p["account"]) == b32(p["department_id"])),
    _consortium_write("remove_service_account", "removeServiceAccount", lambda p: (p["account"],),
                      lambda l, p: l.consortium.department_of(p["account"]) != b32(p["department_id"])),
    _consortium_write("grant_role", "grantRole", lambda p: (role_hash(p["role"]), p["account"]), _has_role),
    _consortium_write("revoke_role", "revokeRole", lambda p: (role_hash(p["role"]), p["account"]),
                      lambda l, p: not _has_role(l, p)),
    _consortium_write("pause", "pause", lambda p: (b32(p["reason_hash"]),), lambda l, p: l.consortium.paused()),
    _consortium_write("unpause", "unpause", lambda p: (b32(p["reason_hash"]),),
                      lambda l, p: not l.consortium.paused()),
    _consortium_write("close_founding", "closeFounding", lambda p: (), lambda l, p: l.consortium.founding_closed()),
)
RUN_WHILE_PAUSED = frozenset({"unpause"})
"""The writes the outbox sends while the ledger is paused: the one that ends the pause."""


WRITES: dict[str, WriteKind] = {
    w.name: w
    for w in (
        WriteKind(
            "register_dataset",
            gas=lambda p: 300_000 + 30_000 * (len(p["parents"]) + len(p["usage_right_holders"]))
            + _text_gas(p["metadata"]),
            call=lambda l, p: _fn(l, "registry", "registerDataset")(
                b32(p["code"]),
                (p["metadata"], b32(p["category"]), p["grade"], p["update_interval"],
                 (b32(p["ownership_holder"]), [b32(h) for h in p["usage_right_holders"]], p["revenue_beneficiary"]),
                 [b32(x) for x in p["parents"]]),
            ),
            applied=_dataset_is_mine,
        ),
        WriteKind(
            "add_version",
            gas=lambda p: 250_000 + _text_gas(p["schema"]),
            call=lambda l, p: _fn(l, "registry", "addVersion")(
                b32(p["dataset_id"]), b32(p["content_root"]), p["schema"], p["size_bytes"], p["record_count"]
            ),
            applied=_version_is_mine,
        ),
        WriteKind(
            "anchor",
            gas=lambda p: 200_000,
            call=lambda l, p: _fn(l, "anchors", "anchor")(b32(p["root"]), p["leaf_count"], p["kind"]),
            applied=_anchor_is_mine,
        ),
        WriteKind(
            "record_uses",
            gas=lambda p: 120_000 + 15_000 * len(p["uses"]),
            call=lambda l, p: _fn(l, "usage", "recordUses")(b32(p["batch_id"]), _use_tuples(p)),
            applied=lambda l, p: l.usage.id_used(_sender(l), b32(p["batch_id"])),
            encode=lambda l, p: l.usage.encode_call("recordUses", b32(p["batch_id"]), _use_tuples(p)),
        ),
        WriteKind(
            "record_queries",
            gas=lambda p: 160_000 + 40_000 * len(p["queries"]),
            call=lambda l, p: _fn(l, "usage", "recordQueries")(b32(p["batch_id"]), _query_tuples(p)),
            applied=lambda l, p: l.usage.id_used(_sender(l), b32(p["batch_id"])),
        ),
        WriteKind(
            "record_refused_queries",
            gas=lambda p: 120_000 + 12_000 * len(p["refusals"]),
            call=lambda l, p: _fn(l, "usage", "recordRefusedQueries")(b32(p["batch_id"]), _refusal_tuples(p)),
            applied=lambda l, p: l.usage.id_used(_sender(l), b32(p["batch_id"])),
        ),
        _grant_write("approve", "approve", priced=True,
                     applied=_grant_in(GrantStatus.AWAITING_CO_APPROVAL, GrantStatus.ACTIVE, GrantStatus.REVOKED)),
        _grant_write("co_approve", "coApprove", applied=_grant_in(GrantStatus.ACTIVE, GrantStatus.REVOKED)),
        _grant_write("reject", "reject", applied=_grant_in(GrantStatus.REJECTED)),
        _grant_write("revoke", "revoke", applied=_grant_in(GrantStatus.REVOKED)),
        WriteKind("lapse", gas=lambda p: 150_000, call=lambda l, p: _fn(l, "grants", "lapse")(b32(p["grant_id"])),
                  applied=_grant_in(GrantStatus.REVOKED)),
        WriteKind(
            "freeze", gas=lambda p: 120_000,
            call=lambda l, p: _fn(l, "registry", "freeze" if p["frozen"] else "unfreeze")(
                b32(p["dataset_id"]), b32(p["reason_hash"])),
            applied=lambda l, p: l.registry.dataset(b32(p["dataset_id"])).frozen == p["frozen"],
        ),
        WriteKind(
            "purge_version", gas=lambda p: 120_000,
            call=lambda l, p: _fn(l, "registry", "purgeVersion")(
                b32(p["dataset_id"]), p["version"], b32(p["reason_hash"]), b32(p["subject_hash"])),
            applied=lambda l, p: l.registry.is_purged(b32(p["dataset_id"]), p["version"]),
        ),
        WriteKind(
            "open_issue", gas=lambda p: 250_000,
            call=lambda l, p: _fn(l, "quality", "openIssue")(
                b32(p["code"]), b32(p["dataset_id"]), p["version"], b32(p["report_hash"])),
            applied=_exists(lambda l, p: l.quality.issue(b32(p["issue_id"])), "QualityUnknownIssue"),
        ),
        _issue_write("return_issue", "returnToSource",
                     _issue_in(IssueStatus.RETURNED, IssueStatus.REPAIRED, IssueStatus.CLOSED)),
        WriteKind(
            "submit_repair", gas=lambda p: 200_000,
            call=lambda l, p: _fn(l, "quality", "submitRepair")(b32(p["issue_id"]), p["repaired_version"],
                                                                 b32(p["note_hash"])),
            applied=lambda l, p: l.quality.issue(b32(p["issue_id"])).repaired_version == p["repaired_version"],
        ),
        _issue_write("close_issue", "verifyAndClose", _issue_in(IssueStatus.CLOSED)),
        _issue_write("reopen_issue", "reopen", _issue_in(IssueStatus.RETURNED)),
        # A text is never refused for having been published before: the send succeeds or is retried.
        WriteKind("publish_text", gas=lambda p: 60_000 + 48 * len(p["text"].encode()),
                  call=lambda l, p: _fn(l, "anchors", "publishText")(p["text"]), applied=lambda l, p: False),
        *GOVERNANCE_WRITES,
        WriteKind(
            "acknowledge_statement", gas=lambda p: 200_000,
            call=lambda l, p: _fn(l, "usage", "acknowledgeStatement")(
                (b32(p["statement_id"]), b32(p["owner_department"]), p["consumer"], p["period_start"],
                 p["period_end"], int(p["amount"]), b32(p["statement_hash"]))),
            applied=lambda l, p: l.usage.statement(b32(p["owner_department"]), b32(p["statement_id"]))[:2] == (
                b32(p["statement_hash"]), True),
        ),
    )
}
