// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ConsortiumBound} from "./ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IAccessGrants} from "./interfaces/IAccessGrants.sol";
import {IDataRegistry} from "./interfaces/IDataRegistry.sol";
import {IUsageLog} from "./interfaces/IUsageLog.sol";

/// @title The log of every use of data, each checked against its grant, and settlements.
contract UsageLog is IUsageLog, ConsortiumBound {
    /// @dev Actions the grantee records itself; every other action is recorded by the owner.
    uint16 private constant _GRANTEE_ACTIONS = uint16(1 << uint8(Action.Analyse)) | uint16(1 << uint8(Action.Share));

    /// @dev One read of a grant and its dataset, shared by a run of uses of that grant.
    struct Terms {
        address grantee;
        IAccessGrants.Status status;
        uint16 actions;
        uint64 expiresAt;
        uint32 maxUses;
        bytes32 datasetId;
        bool callerIsOwner;
        bool frozen;
        bool granteeRemoved;
    }

    struct Statement {
        bytes32 termsDigest;
        bytes32 statementHash;
        bool ownerAcknowledged;
        bool consumerAcknowledged;
    }

    IDataRegistry private immutable _registry;
    IAccessGrants private immutable _grants;

    mapping(bytes32 grantId => uint32) private _used;
    mapping(bytes32 grantId => uint64) private _epsilonSpent;
    mapping(address actor => mapping(bytes32 id => bool)) private _ids;
    /// @dev Keyed by `keccak256(abi.encode(ownerDepartment, statementId))`.
    mapping(bytes32 key => Statement) private _statements;

    constructor(IConsortium consortium_, IDataRegistry registry_, IAccessGrants grants_) ConsortiumBound(consortium_) {
        _registry = registry_;
        _grants = grants_;
    }

    // ------------------------------------------------------------------ uses

    function recordUse(bytes32 useId, UseInput calldata use) external whenLedgerNotPaused returns (uint32 sequence) {
        _claim(useId);
        Terms memory t = _terms(use.grantId, _consortium.departmentOf(msg.sender));
        sequence = _used[use.grantId];
        Refusal refusal = _check(t, use.action, sequence);
        if (refusal == Refusal.None && use.action == Action.Query) refusal = _checkPlainQuery(use.grantId);
        if (refusal != Refusal.None) _revertFor(refusal, t, use);
        sequence += 1;
        _used[use.grantId] = sequence;
        emit UseRecorded(use.grantId, t.datasetId, msg.sender, use.action, use.evidenceHash, sequence);
        emit UsesBatchRecorded(useId, msg.sender, 1, 0);
    }

    function recordUses(
        bytes32 batchId,
        UseInput[] calldata uses
    ) external whenLedgerNotPaused returns (uint32 recorded) {
        if (uses.length == 0) revert UsageEmptyBatch(batchId);
        _claim(batchId);
        bytes32 callerDepartment = _consortium.departmentOf(msg.sender);
        uint256 i = 0;
        while (i < uses.length) {
            bytes32 grantId = uses[i].grantId;
            Terms memory t = _terms(grantId, callerDepartment);
            uint32 before = _used[grantId];
            uint32 used = before;
            for (; i < uses.length && uses[i].grantId == grantId; i++) {
                UseInput calldata use = uses[i];
                Action action = use.action;
                Refusal refusal = _check(t, action, used);
                if (refusal == Refusal.None && action == Action.Query) refusal = _checkPlainQuery(grantId);
                if (refusal == Refusal.None) {
                    used += 1;
                    emit UseRecorded(grantId, t.datasetId, msg.sender, action, use.evidenceHash, used);
                } else {
                    emit UseRefused(grantId, msg.sender, action, use.evidenceHash, refusal);
                }
            }
            if (used != before) {
                _used[grantId] = used;
                recorded += used - before;
            }
        }
        emit UsesBatchRecorded(batchId, msg.sender, recorded, uint32(uses.length) - recorded);
    }

    function recordQueries(
        bytes32 batchId,
        QueryInput[] calldata queries
    ) external whenLedgerNotPaused returns (uint32 recorded) {
        if (queries.length == 0) revert UsageEmptyBatch(batchId);
        _claim(batchId);
        bytes32 callerDepartment = _consortium.departmentOf(msg.sender);
        for (uint256 i = 0; i < queries.length; i++) {
            if (_recordQuery(queries[i], callerDepartment)) recorded += 1;
        }
        emit UsesBatchRecorded(batchId, msg.sender, recorded, uint32(queries.length) - recorded);
    }

    function recordRefusedQueries(
        bytes32 batchId,
        RefusedQueryInput[] calldata refusals
    ) external whenLedgerNotPaused {
        if (refusals.length == 0) revert UsageEmptyBatch(batchId);
        _claim(batchId);
        bytes32 callerDepartment = _consortium.departmentOf(msg.sender);
        bytes32 grantId;
        address consumer;
        for (uint256 i = 0; i < refusals.length; i++) {
            RefusedQueryInput calldata r = refusals[i];
            if (i == 0 || r.grantId != grantId) {
                grantId = r.grantId;
                consumer = _refusedQueryConsumer(grantId, callerDepartment);
            }
            emit QueryRefused(grantId, consumer, r.queryHash, r.reason);
        }
    }

    // ------------------------------------------------------------------ settlement

    function acknowledgeStatement(StatementInput calldata input) external whenLedgerNotPaused {
        bool isOwner = _consortium.departmentOf(msg.sender) == input.ownerDepartment && input.ownerDepartment != 0;
        if (!isOwner && msg.sender != input.consumer) revert UsageNotStatementParty(msg.sender, input.statementId);
        Statement storage s = _statements[_statementKey(input.ownerDepartment, input.statementId)];
        bytes32 digest = keccak256(abi.encode(input));
        if (s.termsDigest == 0) {
            if (!isOwner) revert UsageStatementNotIssued(input.statementId, msg.sender);
            s.termsDigest = digest;
            s.statementHash = input.statementHash;
        } else if (s.termsDigest != digest) {
            revert UsageStatementMismatch(input.statementId, s.statementHash);
        }
        if (isOwner ? s.ownerAcknowledged : s.consumerAcknowledged) {
            revert UsageStatementAcknowledged(input.statementId, msg.sender);
        }
        if (isOwner) {
            s.ownerAcknowledged = true;
        } else {
            s.consumerAcknowledged = true;
        }
        emit StatementAcknowledged(
            input.statementId,
            input.ownerDepartment,
            input.consumer,
            msg.sender,
            input.periodStart,
            input.periodEnd,
            input.amount,
            input.statementHash
        );
        if (s.ownerAcknowledged && s.consumerAcknowledged) emit StatementSettled(input.statementId, input.statementHash);
    }

    // ------------------------------------------------------------------ views

    function usesOf(bytes32 grantId) external view returns (uint32) {
        return _used[grantId];
    }

    function epsilonSpent(bytes32 grantId) external view returns (uint64) {
        return _epsilonSpent[grantId];
    }

    function idUsed(address actor, bytes32 id) external view returns (bool) {
        return _ids[actor][id];
    }

    function statement(
        bytes32 ownerDepartment,
        bytes32 statementId
    ) external view returns (bytes32 statementHash, bool ownerAcknowledged, bool consumerAcknowledged) {
        Statement storage s = _statements[_statementKey(ownerDepartment, statementId)];
        return (s.statementHash, s.ownerAcknowledged, s.consumerAcknowledged);
    }

    // ------------------------------------------------------------------ internals

    function _claim(bytes32 id) private {
        if (id == 0) revert UsageInvalidId(id);
        mapping(bytes32 => bool) storage ids = _ids[msg.sender];
        if (ids[id]) revert UsageIdUsed(msg.sender, id);
        ids[id] = true;
    }

    function _statementKey(bytes32 ownerDepartment, bytes32 statementId) private pure returns (bytes32) {
        return keccak256(abi.encode(ownerDepartment, statementId));
    }

    function _terms(bytes32 grantId, bytes32 callerDepartment) private view returns (Terms memory t) {
        (t.grantee, t.status, t.actions, t.expiresAt, t.maxUses, t.datasetId) = _grants.useTerms(grantId);
        if (t.status == IAccessGrants.Status.None) return t;
        (bytes32 owner, , bool frozen) = _registry.useStatus(t.datasetId);
        t.callerIsOwner = callerDepartment != 0 && callerDepartment == owner;
        t.frozen = frozen;
        // Only an Active grant gets as far as this check in {_check}.
        if (t.status == IAccessGrants.Status.Active) {
            t.granteeRemoved = _consortium.sponsorOf(t.grantee) == 0 && _consortium.departmentOf(t.grantee) == 0;
        }
    }

    function _check(Terms memory t, Action action, uint32 used) private view returns (Refusal) {
        if (t.status == IAccessGrants.Status.None) return Refusal.UnknownGrant;
        uint16 bit = uint16(1 << uint8(action));
        bool allowed = (bit & _GRANTEE_ACTIONS) != 0 ? msg.sender == t.grantee : t.callerIsOwner;
        if (!allowed) return Refusal.CallerNotAllowed;
        if (t.status == IAccessGrants.Status.Revoked) return Refusal.Revoked;
        if (t.status != IAccessGrants.Status.Active) return Refusal.NotActive;
        if (t.granteeRemoved) return Refusal.GranteeRemoved;
        if (block.timestamp >= t.expiresAt) return Refusal.Expired;
        if (t.frozen) return Refusal.DatasetFrozen;
        if (t.actions & bit == 0) return Refusal.ActionNotGranted;
        if (used >= t.maxUses) return Refusal.QuotaExhausted;
        return Refusal.None;
    }

    /// @dev Queries are few beside deliveries, so each reads its grant afresh rather than in runs.
    function _recordQuery(QueryInput calldata q, bytes32 callerDepartment) private returns (bool) {
        Terms memory t = _terms(q.grantId, callerDepartment);
        uint32 used = _used[q.grantId];
        uint64 spent = _epsilonSpent[q.grantId];
        Refusal refusal = _check(t, Action.Query, used);
        if (refusal == Refusal.None) refusal = _checkEpsilon(q.grantId, q.epsilon, spent);
        if (refusal != Refusal.None) {
            emit UseRefused(q.grantId, msg.sender, Action.Query, q.queryHash, refusal);
            return false;
        }
        used += 1;
        spent += q.epsilon;
        _used[q.grantId] = used;
        _epsilonSpent[q.grantId] = spent;
        emit UseRecorded(q.grantId, t.datasetId, msg.sender, Action.Query, q.queryHash, used);
        emit QueryRecorded(q.grantId, used, q.queryHash, q.resultHash, q.epsilon, spent, q.rowsScanned);
        return true;
    }

    /// @dev `spent <= budget` always holds, so `budget - spent` cannot underflow.
    function _checkEpsilon(bytes32 grantId, uint64 epsilon, uint64 spent) private view returns (Refusal) {
        (uint64 budget, uint64 cap, , ) = _grants.privacyTerms(grantId);
        if (cap == 0) return Refusal.NoPrivacyTerms;
        if (epsilon == 0 || epsilon > cap) return Refusal.EpsilonOverCap;
        if (epsilon > budget - spent) return Refusal.BudgetExhausted;
        return Refusal.None;
    }

    /// @dev A Query use outside {recordQueries} spends no ε: refused on a grant with privacy terms.
    function _checkPlainQuery(bytes32 grantId) private view returns (Refusal) {
        (, uint64 cap, , ) = _grants.privacyTerms(grantId);
        return cap == 0 ? Refusal.None : Refusal.EpsilonOverCap;
    }

    /// @dev The grantee of `grantId`, once the caller is known to serve its dataset's owner.
    function _refusedQueryConsumer(bytes32 grantId, bytes32 callerDepartment) private view returns (address grantee) {
        IAccessGrants.Status status;
        bytes32 datasetId;
        (grantee, status, , , , datasetId) = _grants.useTerms(grantId);
        if (status == IAccessGrants.Status.None) revert UsageUnknownGrant(grantId);
        (bytes32 owner, , ) = _registry.useStatus(datasetId);
        if (callerDepartment == 0 || callerDepartment != owner) {
            revert UsageCallerNotAllowed(msg.sender, grantId, Action.Query);
        }
    }

    function _revertFor(Refusal refusal, Terms memory t, UseInput calldata use) private view {
        if (refusal == Refusal.UnknownGrant) revert UsageUnknownGrant(use.grantId);
        if (refusal == Refusal.CallerNotAllowed) revert UsageCallerNotAllowed(msg.sender, use.grantId, use.action);
        if (refusal == Refusal.Revoked) revert UsageGrantRevoked(use.grantId);
        if (refusal == Refusal.NotActive) revert UsageGrantNotActive(use.grantId, t.status);
        if (refusal == Refusal.Expired) revert UsageGrantExpired(use.grantId, t.expiresAt);
        if (refusal == Refusal.DatasetFrozen) revert UsageDatasetFrozen(t.datasetId);
        if (refusal == Refusal.ActionNotGranted) revert UsageActionNotGranted(use.grantId, use.action);
        if (refusal == Refusal.GranteeRemoved) revert UsageGranteeRemoved(use.grantId, t.grantee);
        if (refusal == Refusal.EpsilonOverCap) revert UsageEpsilonOverCap(use.grantId, 0);
        revert UsageQuotaExhausted(use.grantId, t.maxUses);
    }
}
