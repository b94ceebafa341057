"""One typed client per provledger contract (see ``contracts/interfaces`` for the rules)."""

from __future__ import annotations

from collections.abc import Sequence

from web3.types import TxReceipt

from ledger.clients import (
    Anchor, AnchorKind, ContractClient, Dataset, Department, Grant, GrantPrivacy, GrantStatus, Issue,
    IssueStatus, PrivacyTerms, Proposal, QueryInput, RefusedQueryInput, Rights, Statement, Use, Version,
)
from ledger.tx import Call, SentTransaction

ZERO32 = b"\x00" * 32


class ConsortiumClient(ContractClient):
    contract_name = "Consortium"

    def seat_founding_department(self, department_id: bytes, name: str, validator: str, service_account: str) -> TxReceipt:
        return self._send("seatFoundingDepartment", department_id, name, validator, service_account)

    def close_founding(self) -> TxReceipt:
        return self._send("closeFounding")

    def propose_admission(self, key: bytes, department_id: bytes, name: str, validator: str,
                          service_account: str) -> TxReceipt:
        """Opens the proposal :meth:`proposal_id_of` (sender, ``key``) names."""
        return self._send("proposeAdmission", key, department_id, name, validator, service_account)

    def propose_removal(self, key: bytes, department_id: bytes) -> TxReceipt:
        return self._send("proposeRemoval", key, department_id)

    def proposal_id_of(self, proposer: str, key: bytes) -> bytes:
        """The id the chain gives the proposal ``proposer`` opens under ``key``."""
        return bytes(self._call("proposalIdOf", proposer, key))

    def vote(self, proposal_id: bytes) -> TxReceipt:
        return self._send("vote", proposal_id)

    def execute(self, proposal_id: bytes) -> TxReceipt:
        return self._send("execute", proposal_id)

    def offer_service_account(self, account: str) -> TxReceipt:
        return self._send("offerServiceAccount", account)

    def accept_service_account(self, department_id: bytes) -> TxReceipt:
        """Sent by the account itself: it joins ``department_id``, which offered it a seat."""
        return self._send("acceptServiceAccount", department_id)

    def remove_consumer(self, consumer: str) -> TxReceipt:
        return self._send("removeConsumer", consumer)

    def register_consumer(self, consumer: str, profile_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("registerConsumer", consumer, profile_hash)

    def appoint_auditor(self, account: str) -> TxReceipt:
        return self._send("grantRole", self._call("AUDITOR_ROLE"), account)

    def appoint_coordinator(self, account: str) -> TxReceipt:
        """Share the coordinator's role with ``account`` (e.g. a department's node)."""
        return self._send("grantRole", self._call("COORDINATOR_ROLE"), account)

    def pause(self, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("pause", reason_hash)

    def unpause(self, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("unpause", reason_hash)

    def department_of(self, account: str) -> bytes:
        return bytes(self._call("departmentOf", account))

    def department(self, department_id: bytes) -> Department:
        return Department(*self._call("department", department_id))

    def service_accounts(self, department_id: bytes) -> list[str]:
        return [str(a) for a in self._call("serviceAccounts", department_id)]

    def members(self) -> list[bytes]:
        return [bytes(m) for m in self._call("members")]

    def sponsor_of(self, consumer: str) -> bytes:
        return bytes(self._call("sponsorOf", consumer))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._call("hasRole", role, account))

    def has_voted(self, proposal_id: bytes, department_id: bytes) -> bool:
        return bool(self._call("hasVoted", proposal_id, department_id))

    def has_offer(self, department_id: bytes, account: str) -> bool:
        return bool(self._call("hasOffer", department_id, account))

    def founding_closed(self) -> bool:
        return bool(self._call("foundingClosed"))

    def proposal(self, proposal_id: bytes) -> Proposal:
        return Proposal(*self._call("proposal", proposal_id))

    def tally(self, proposal_id: bytes) -> tuple[int, int]:
        yes, quorum = self._call("tally", proposal_id)
        return int(yes), int(quorum)

    def is_coordinator(self, account: str) -> bool:
        return bool(self._call("isCoordinator", account))

    def is_auditor(self, account: str) -> bool:
        return bool(self._call("isAuditor", account))

    def paused(self, *, block: int | None = None) -> bool:
        """Whether the coordinator has paused the ledger, at ``block`` (the latest when None)."""
        return bool(self._call("paused", block=block))


class DataRegistryClient(ContractClient):
    contract_name = "DataRegistry"

    def register_dataset(self, code: bytes, *, metadata: str, category: bytes, grade: int,
                         update_interval: int, rights: Rights, parents: Sequence[bytes] = ()) -> TxReceipt:
        """Register a dataset under the caller's department; its id is ``dataset_id_of(department, code)``;
        ``metadata`` is its public catalog text, hashed by the contract."""
        payload = (metadata, category, grade, update_interval, rights.as_tuple(), list(parents))
        return self._send("registerDataset", code, payload)

    def update_metadata(self, dataset_id: bytes, metadata: str) -> TxReceipt:
        return self._send("updateMetadata", dataset_id, metadata)

    def dataset_id_of(self, department_id: bytes, code: bytes) -> bytes:
        return bytes(self._call("datasetIdOf", department_id, code))

    def add_version(self, dataset_id: bytes, content_root: bytes, schema: str, size_bytes: int,
                    record_count: int) -> TxReceipt:
        """Anchor a version; ``schema`` is its schema text, hashed by the contract."""
        return self._send("addVersion", dataset_id, content_root, schema, size_bytes, record_count)

    def freeze(self, dataset_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("freeze", dataset_id, reason_hash)

    def unfreeze(self, dataset_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("unfreeze", dataset_id, reason_hash)

    def purge_version(self, dataset_id: bytes, version: int, reason_hash: bytes,
                      subject_hash: bytes = ZERO32) -> TxReceipt:
        """Record that the owner's node removed ``version``'s plaintext; ``subject_hash`` is zero for
        a whole version, else the salted hash of the person whose records left."""
        return self._send("purgeVersion", dataset_id, version, reason_hash, subject_hash)

    def is_purged(self, dataset_id: bytes, version: int) -> bool:
        return bool(self._call("isPurged", dataset_id, version))

    def dataset(self, dataset_id: bytes) -> Dataset:
        return Dataset(*self._call("dataset", dataset_id))

    def version(self, dataset_id: bytes, version: int) -> Version:
        return Version(*self._call("version", dataset_id, version))

    def catalog_hashes(self, keys: Sequence[tuple[bytes, int]], *, timeout: float | None = None) -> list[bytes | None]:
        """For each ``(dataset_id, version)``: the dataset's metadata hash (version 0) or the version's
        schema hash, read in one JSON-RPC batch; None where the dataset or version is unknown."""
        calls = [("eth_call", [{"to": self.address, "data": self.contract.encode_abi(
            "version" if number else "dataset", args=[dataset_id, number] if number else [dataset_id])}, "latest"])
                 for dataset_id, number in keys]
        # Both structs are static: the hash is their second 32-byte word.
        return [bytes.fromhex(r.result[2 + 64 : 2 + 128]) if not r.error and isinstance(r.result, str)
                and len(r.result) >= 2 + 128 else None for r in self.rpc.call(calls, timeout=timeout)]

    def version_of_root(self, dataset_id: bytes, content_root: bytes) -> int:
        return int(self._call("versionOfRoot", dataset_id, content_root))

    def use_status(self, dataset_id: bytes) -> tuple[bytes, int, bool]:
        """Owner department, grade and whether it is frozen, in one call."""
        owner, grade, frozen = self._call("useStatus", dataset_id)
        return bytes(owner), int(grade), bool(frozen)


class AccessGrantsClient(ContractClient):
    contract_name = "AccessGrants"

    def request_access(self, request_key: bytes, *, dataset_id: bytes, purpose: str, schema_hash: bytes,
                       fields: Sequence[str], actions: int, duration: int, max_uses: int) -> TxReceipt:
        """Request access as the sender for ``purpose`` (its text goes on chain); the grant's id is
        ``grant_id_of(sender, request_key)``."""
        payload = (dataset_id, purpose, schema_hash, list(fields), actions, duration, max_uses)
        return self._send("requestAccess", request_key, payload)

    def request_query_access(self, request_key: bytes, *, dataset_id: bytes, purpose: str, schema_hash: bytes,
                             fields: Sequence[str], actions: int, duration: int, max_uses: int,
                             terms: PrivacyTerms) -> TxReceipt:
        """As :meth:`request_access`, for a query grant with ``terms`` (``actions`` must allow Query)."""
        payload = (dataset_id, purpose, schema_hash, list(fields), actions, duration, max_uses)
        return self._send("requestQueryAccess", request_key, payload, terms.as_tuple())

    def grant_id_of(self, grantee: str, request_key: bytes) -> bytes:
        return bytes(self._call("grantIdOf", grantee, request_key))

    def lapse(self, grant_id: bytes) -> TxReceipt:
        return self._send("lapse", grant_id)

    def approve(self, grant_id: bytes, reason_hash: bytes = ZERO32, price_per_use: int = 0) -> TxReceipt:
        return self._send("approve", grant_id, reason_hash, price_per_use)

    def co_approve(self, grant_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("coApprove", grant_id, reason_hash)

    def reject(self, grant_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("reject", grant_id, reason_hash)

    def withdraw(self, grant_id: bytes) -> TxReceipt:
        return self._send("withdraw", grant_id)

    def revoke(self, grant_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("revoke", grant_id, reason_hash)

    def privacy_terms(self, grant_id: bytes, *, block: int | None = None) -> GrantPrivacy:
        budget, cap, k, bounds_hash = self._call("privacyTerms", grant_id, block=block)
        return GrantPrivacy(int(budget), int(cap), int(k), bytes(bounds_hash))

    def grant(self, grant_id: bytes) -> Grant:
        values = list(self._call("grant", grant_id))
        values[1] = GrantStatus(values[1])
        return Grant(*values)


class UsageLogClient(ContractClient):
    contract_name = "UsageLog"

    def record_use(self, use_id: bytes, use: Use) -> TxReceipt:
        return self._send("recordUse", use_id, use.as_tuple())

    def record_uses(self, batch_id: bytes, uses: Sequence[Use]) -> TxReceipt:
        return self._send("recordUses", batch_id, [u.as_tuple() for u in uses])

    def submit_uses(self, batch_id: bytes, uses: Sequence[Use], gas: int | None = None) -> SentTransaction:
        """Send a batch without waiting for it, to pipeline many batches."""
        return self._sender().send(self.record_uses_call(batch_id, uses), gas=gas)

    def record_uses_call(self, batch_id: bytes, uses: Sequence[Use]) -> Call:
        """``recordUses(batch_id, uses)`` encoded for sending, at the cost of eth-abi alone."""
        return self.encode_call("recordUses", batch_id, [u.as_tuple() for u in uses])

    def record_queries(self, batch_id: bytes, queries: Sequence[QueryInput]) -> TxReceipt:
        return self._send("recordQueries", batch_id, [q.as_tuple() for q in queries])

    def record_queries_call(self, batch_id: bytes, queries: Sequence[QueryInput]) -> Call:
        """``recordQueries(batch_id, queries)`` encoded for sending (see :meth:`record_uses_call`)."""
        return self.encode_call("recordQueries", batch_id, [q.as_tuple() for q in queries])

    def record_refused_queries(self, batch_id: bytes, refusals: Sequence[RefusedQueryInput]) -> TxReceipt:
        return self._send("recordRefusedQueries", batch_id, [r.as_tuple() for r in refusals])

    def acknowledge_statement(self, statement: Statement) -> TxReceipt:
        return self._send("acknowledgeStatement", statement.as_tuple())

    def statement(self, owner_department: bytes, statement_id: bytes) -> tuple[bytes, bool, bool]:
        """The statement's hash and whether the owner and the consumer acknowledged it."""
        statement_hash, owner, consumer = self._call("statement", owner_department, statement_id)
        return bytes(statement_hash), bool(owner), bool(consumer)

    def uses_of(self, grant_id: bytes, *, block: int | None = None) -> int:
        return int(self._call("usesOf", grant_id, block=block))

    def epsilon_spent(self, grant_id: bytes, *, block: int | None = None) -> int:
        """The micro-ε the accepted queries of ``grant_id`` spent."""
        return int(self._call("epsilonSpent", grant_id, block=block))

    def id_used(self, actor: str, use_or_batch_id: bytes, *, block: int | None = None) -> bool:
        """Whether ``actor`` recorded a use or batch under this id (ids are kept per actor)."""
        return bool(self._call("idUsed", actor, use_or_batch_id, block=block))


class AnchorRegistryClient(ContractClient):
    contract_name = "AnchorRegistry"

    def anchor(self, root: bytes, leaf_count: int, kind: AnchorKind) -> TxReceipt:
        return self._send("anchor", root, leaf_count, int(kind))

    def publish_text(self, text: str) -> TxReceipt:
        """Publish the text behind a hash kept on chain; its hash is ``ledger.ids.text_hash(text)``."""
        return self._send("publishText", text)

    def anchor_of(self, department_id: bytes, root: bytes) -> Anchor:
        """The anchor of ``root`` by ``department_id`` (roots are kept per department)."""
        values = list(self._call("anchorOf", department_id, root))
        values[3] = AnchorKind(values[3])
        return Anchor(*values)

    def verify_inclusion(self, department_id: bytes, root: bytes, item: bytes, proof: Sequence[bytes]) -> bool:
        return bool(self._call("verifyInclusion", department_id, root, item, list(proof)))


class QualityBoardClient(ContractClient):
    contract_name = "QualityBoard"

    def open_issue(self, code: bytes, dataset_id: bytes, version: int, report_hash: bytes) -> TxReceipt:
        """Open an issue as the sender; its id is ``issue_id_of(sender, code)``."""
        return self._send("openIssue", code, dataset_id, version, report_hash)

    def issue_id_of(self, opener: str, code: bytes) -> bytes:
        return bytes(self._call("issueIdOf", opener, code))

    def submit_repair(self, issue_id: bytes, repaired_version: int, note_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("submitRepair", issue_id, repaired_version, note_hash)

    def reopen(self, issue_id: bytes, reason_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("reopen", issue_id, reason_hash)

    def verify_and_close(self, issue_id: bytes, report_hash: bytes = ZERO32) -> TxReceipt:
        return self._send("verifyAndClose", issue_id, report_hash)

    def issue(self, issue_id: bytes) -> Issue:
        values = list(self._call("issue", issue_id))
        values[6] = IssueStatus(values[6])
        return Issue(*values)


CLIENTS: dict[str, type[ContractClient]] = {
    c.contract_name: c
    for c in (ConsortiumClient, DataRegistryClient, AccessGrantsClient, UsageLogClient, AnchorRegistryClient,
              QualityBoardClient)
}
