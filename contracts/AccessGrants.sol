// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ConsortiumBound} from "./ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IAccessGrants} from "./interfaces/IAccessGrants.sol";
import {IDataRegistry} from "./interfaces/IDataRegistry.sol";

/// @title Access requests, their review, and the grants they become.
contract AccessGrants is IAccessGrants, ConsortiumBound {
    /// @dev From this grade up, the coordinator co-approves every grant.
    uint8 public constant CO_APPROVAL_GRADE = 3;
    /// @dev Bounds expiry far below uint64's limit.
    uint64 public constant MAX_DURATION = 100 * 365 days;
    uint256 public constant MAX_FIELDS = 64;
    uint256 public constant MAX_FIELD_LENGTH = 64;
    uint256 public constant MAX_PURPOSE_LENGTH = 1000;
    uint256 public constant MAX_BOUNDS_LENGTH = 2000;
    uint16 private constant _QUERY_BIT = 1 << 7;

    IDataRegistry private immutable _registry;

    mapping(bytes32 grantId => Grant) private _grants;
    mapping(bytes32 grantId => StoredPrivacyTerms) private _privacy;

    constructor(IConsortium consortium_, IDataRegistry registry_) ConsortiumBound(consortium_) {
        _registry = registry_;
    }

    // ------------------------------------------------------------------ writes

    function requestAccess(
        bytes32 requestKey,
        RequestInput calldata input
    ) external whenLedgerNotPaused returns (bytes32 grantId) {
        grantId = _request(requestKey, input);
    }

    function requestQueryAccess(
        bytes32 requestKey,
        RequestInput calldata input,
        PrivacyTerms calldata terms
    ) external whenLedgerNotPaused returns (bytes32 grantId) {
        grantId = _request(requestKey, input);
        if (
            input.actions & _QUERY_BIT == 0 ||
            terms.epsilonCap == 0 ||
            terms.epsilonCap > terms.epsilonBudget ||
            terms.minGroupSize < 2
        ) {
            revert GrantsInvalidPrivacyTerms(grantId, terms.epsilonBudget, terms.epsilonCap, terms.minGroupSize);
        }
        uint256 boundsLength = bytes(terms.bounds).length;
        if (boundsLength > MAX_BOUNDS_LENGTH) revert GrantsInvalidBounds(boundsLength);
        _privacy[grantId] = StoredPrivacyTerms({
            epsilonBudget: terms.epsilonBudget,
            epsilonCap: terms.epsilonCap,
            minGroupSize: terms.minGroupSize,
            boundsHash: keccak256(bytes(terms.bounds))
        });
        emit QueryTermsRequested(grantId, terms.epsilonBudget, terms.epsilonCap, terms.minGroupSize, terms.bounds);
    }

    function approve(bytes32 grantId, bytes32 reasonHash, uint96 pricePerUse) external whenLedgerNotPaused {
        Grant storage g = _withStatus(grantId, Status.Pending);
        (bytes32 owner, uint8 grade, bool frozen) = _registry.useStatus(g.datasetId);
        if (_consortium.departmentOf(msg.sender) != owner) revert GrantsNotReviewer(msg.sender, g.datasetId);
        if (frozen) revert GrantsDatasetFrozen(g.datasetId);
        _requireRegistered(g.grantee);
        bool coApprovalRequired = grade >= CO_APPROVAL_GRADE;
        g.pricePerUse = pricePerUse;
        emit RequestApproved(grantId, g.datasetId, msg.sender, reasonHash, pricePerUse, coApprovalRequired);
        if (coApprovalRequired) {
            g.status = Status.AwaitingCoApproval;
        } else {
            _activate(grantId, g);
        }
    }

    function coApprove(bytes32 grantId, bytes32 reasonHash) external whenLedgerNotPaused {
        Grant storage g = _withStatus(grantId, Status.AwaitingCoApproval);
        if (!_callerIsCoordinator()) revert GrantsNotCoordinator(msg.sender);
        (bytes32 owner, , bool frozen) = _registry.useStatus(g.datasetId);
        // A coordinator serving the owner would approve twice for one department.
        if (_consortium.departmentOf(msg.sender) == owner) revert GrantsCoordinatorIsOwner(msg.sender, g.datasetId);
        if (frozen) revert GrantsDatasetFrozen(g.datasetId);
        _requireRegistered(g.grantee);
        emit RequestCoApproved(grantId, g.datasetId, msg.sender, reasonHash);
        _activate(grantId, g);
    }

    function reject(bytes32 grantId, bytes32 reasonHash) external whenLedgerNotPaused {
        Grant storage g = _existing(grantId);
        bool byOwner = _callerIsOwner(g.datasetId);
        if (g.status == Status.Pending) {
            if (!byOwner) revert GrantsNotReviewer(msg.sender, g.datasetId);
        } else if (g.status == Status.AwaitingCoApproval) {
            if (!byOwner && !_callerIsCoordinator()) revert GrantsNotOwnerOrCoordinator(msg.sender, grantId);
        } else {
            revert GrantsUnexpectedStatus(grantId, g.status);
        }
        g.status = Status.Rejected;
        emit RequestRejected(grantId, g.datasetId, msg.sender, reasonHash);
    }

    function withdraw(bytes32 grantId) external whenLedgerNotPaused {
        Grant storage g = _existing(grantId);
        if (g.grantee != msg.sender) revert GrantsNotGrantee(msg.sender, grantId);
        if (g.status != Status.Pending && g.status != Status.AwaitingCoApproval) {
            revert GrantsUnexpectedStatus(grantId, g.status);
        }
        g.status = Status.Withdrawn;
        emit RequestWithdrawn(grantId, g.datasetId, msg.sender);
    }

    function revoke(bytes32 grantId, bytes32 reasonHash) external whenLedgerNotPaused {
        Grant storage g = _withStatus(grantId, Status.Active);
        if (!_callerIsOwner(g.datasetId) && !_callerIsCoordinator()) {
            revert GrantsNotOwnerOrCoordinator(msg.sender, grantId);
        }
        g.status = Status.Revoked;
        emit GrantRevoked(grantId, g.datasetId, msg.sender, reasonHash);
    }

    function lapse(bytes32 grantId) external whenLedgerNotPaused {
        Grant storage g = _existing(grantId);
        Status status = g.status;
        if (status != Status.Pending && status != Status.AwaitingCoApproval && status != Status.Active) {
            revert GrantsUnexpectedStatus(grantId, status);
        }
        address grantee = g.grantee;
        if (_isRegistered(grantee)) revert GrantsGranteeRegistered(grantId, grantee);
        g.status = Status.Revoked;
        emit GrantLapsed(grantId, g.datasetId, grantee, msg.sender);
    }

    // ------------------------------------------------------------------ views

    function grantIdOf(address grantee, bytes32 requestKey) external pure returns (bytes32) {
        return _grantIdOf(grantee, requestKey);
    }

    function grant(bytes32 grantId) external view returns (Grant memory) {
        return _existing(grantId);
    }

    function useTerms(
        bytes32 grantId
    )
        external
        view
        returns (address grantee, Status status, uint16 actions, uint64 expiresAt, uint32 maxUses, bytes32 datasetId)
    {
        Grant storage g = _grants[grantId];
        return (g.grantee, g.status, g.actions, g.expiresAt, g.maxUses, g.datasetId);
    }

    function privacyTerms(
        bytes32 grantId
    ) external view returns (uint64 epsilonBudget, uint64 epsilonCap, uint32 minGroupSize, bytes32 boundsHash) {
        StoredPrivacyTerms storage p = _privacy[grantId];
        return (p.epsilonBudget, p.epsilonCap, p.minGroupSize, p.boundsHash);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The checks and effects every request shares, plain or query.
    function _request(bytes32 requestKey, RequestInput calldata input) private returns (bytes32 grantId) {
        _requireRegistered(msg.sender);
        if (requestKey != 0) grantId = _grantIdOf(msg.sender, requestKey);
        if (
            requestKey == 0 ||
            input.duration == 0 ||
            input.duration > MAX_DURATION ||
            input.maxUses == 0 ||
            input.actions == 0
        ) {
            revert GrantsInvalidTerms(grantId, input.duration, input.maxUses, input.actions);
        }
        uint256 purposeLength = bytes(input.purpose).length;
        if (purposeLength == 0 || purposeLength > MAX_PURPOSE_LENGTH) revert GrantsInvalidPurpose(purposeLength);
        bytes32 purposeHash = keccak256(bytes(input.purpose));
        _checkFields(input.fields);
        if (_grants[grantId].status != Status.None) revert GrantsRequestExists(grantId);
        (bytes32 owner, , bool frozen) = _registry.useStatus(input.datasetId);
        if (frozen) revert GrantsDatasetFrozen(input.datasetId);
        if (_consortium.departmentOf(msg.sender) == owner) revert GrantsOwnDataset(input.datasetId);
        _grants[grantId] = Grant({
            grantee: msg.sender,
            status: Status.Pending,
            actions: input.actions,
            expiresAt: 0,
            maxUses: input.maxUses,
            duration: input.duration,
            requestedAt: uint64(block.timestamp),
            pricePerUse: 0,
            datasetId: input.datasetId,
            purposeHash: purposeHash,
            fieldsHash: keccak256(abi.encode(input.fields)),
            schemaHash: input.schemaHash
        });
        _emitRequested(grantId, purposeHash, input);
    }

    function _existing(bytes32 grantId) private view returns (Grant storage g) {
        g = _grants[grantId];
        if (g.status == Status.None) revert GrantsUnknownGrant(grantId);
    }

    function _withStatus(bytes32 grantId, Status expected) private view returns (Grant storage g) {
        g = _existing(grantId);
        if (g.status != expected) revert GrantsUnexpectedStatus(grantId, g.status);
    }

    /// @dev Consumers removed by their sponsor, and departments voted out, get no new grants.
    function _requireRegistered(address account) private view {
        if (!_isRegistered(account)) revert GrantsNotConsumer(account);
    }

    function _isRegistered(address account) private view returns (bool) {
        return _consortium.sponsorOf(account) != 0 || _consortium.departmentOf(account) != 0;
    }

    function _grantIdOf(address grantee, bytes32 requestKey) private pure returns (bytes32) {
        return keccak256(abi.encode(grantee, requestKey));
    }

    function _checkFields(string[] calldata fields) private pure {
        if (fields.length > MAX_FIELDS) revert GrantsInvalidFields(MAX_FIELDS);
        for (uint256 i = 0; i < fields.length; i++) {
            uint256 length = bytes(fields[i]).length;
            if (length == 0 || length > MAX_FIELD_LENGTH) revert GrantsInvalidFields(i);
        }
    }

    function _emitRequested(bytes32 grantId, bytes32 purposeHash, RequestInput calldata input) private {
        emit AccessRequested(
            grantId,
            input.datasetId,
            msg.sender,
            purposeHash,
            input.purpose,
            input.schemaHash,
            input.fields,
            input.actions,
            input.duration,
            input.maxUses
        );
    }

    function _callerIsOwner(bytes32 datasetId) private view returns (bool) {
        (bytes32 owner, , ) = _registry.useStatus(datasetId);
        return _consortium.departmentOf(msg.sender) == owner;
    }

    function _activate(bytes32 grantId, Grant storage g) private {
        uint64 expiresAt = uint64(block.timestamp) + g.duration;
        g.status = Status.Active;
        g.expiresAt = expiresAt;
        emit GrantActivated(grantId, g.datasetId, g.grantee, expiresAt, g.maxUses);
    }
}
