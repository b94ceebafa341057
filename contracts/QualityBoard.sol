// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ConsortiumBound} from "./ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IDataRegistry} from "./interfaces/IDataRegistry.sol";
import {IQualityBoard} from "./interfaces/IQualityBoard.sol";

/// @title Quality issues against dataset versions, from opening to verified repair.
contract QualityBoard is IQualityBoard, ConsortiumBound {
    IDataRegistry private immutable _registry;

    mapping(bytes32 issueId => Issue) private _issues;

    constructor(IConsortium consortium_, IDataRegistry registry_) ConsortiumBound(consortium_) {
        _registry = registry_;
    }

    function openIssue(
        bytes32 code,
        bytes32 datasetId,
        uint32 version,
        bytes32 reportHash
    ) external whenLedgerNotPaused returns (bytes32 issueId) {
        bytes32 openerDepartment = _consortium.departmentOf(msg.sender);
        if (openerDepartment == 0 && !_callerIsCoordinator() && !_consortium.isAuditor(msg.sender)) {
            revert QualityNotInspector(msg.sender);
        }
        if (code == 0) revert QualityIssueExists(0);
        issueId = _issueIdOf(msg.sender, code);
        if (_issues[issueId].status != IssueStatus.None) revert QualityIssueExists(issueId);
        _registry.version(datasetId, version);
        (bytes32 source, , ) = _registry.useStatus(datasetId);
        _issues[issueId] = Issue({
            datasetId: datasetId,
            sourceDepartment: source,
            openerDepartment: openerDepartment,
            opener: msg.sender,
            version: version,
            repairedVersion: 0,
            status: IssueStatus.Open,
            openedAt: uint64(block.timestamp),
            reportHash: reportHash
        });
        emit IssueOpened(issueId, datasetId, source, msg.sender, version, reportHash);
    }

    function returnToSource(bytes32 issueId, bytes32 noteHash) external whenLedgerNotPaused {
        Issue storage i = _reviewable(issueId, IssueStatus.Open);
        i.status = IssueStatus.Returned;
        emit IssueReturned(issueId, i.datasetId, i.sourceDepartment, msg.sender, noteHash);
    }

    function submitRepair(bytes32 issueId, uint32 repairedVersion, bytes32 noteHash) external whenLedgerNotPaused {
        Issue storage i = _withStatus(issueId, IssueStatus.Returned);
        if (_consortium.departmentOf(msg.sender) != i.sourceDepartment) revert QualityNotSource(msg.sender, issueId);
        // A rejected repair stays on record, and every repair is newer than the version at issue.
        uint32 newerThan = i.repairedVersion == 0 ? i.version : i.repairedVersion;
        if (repairedVersion <= newerThan || repairedVersion > _registry.dataset(i.datasetId).versionCount) {
            revert QualityInvalidRepair(issueId, newerThan, repairedVersion);
        }
        i.status = IssueStatus.Repaired;
        i.repairedVersion = repairedVersion;
        emit IssueRepaired(issueId, i.datasetId, i.sourceDepartment, msg.sender, repairedVersion, noteHash);
    }

    function verifyAndClose(bytes32 issueId, bytes32 reportHash) external whenLedgerNotPaused {
        Issue storage i = _reviewable(issueId, IssueStatus.Repaired);
        i.status = IssueStatus.Closed;
        emit IssueClosed(issueId, i.datasetId, i.sourceDepartment, msg.sender, i.repairedVersion, reportHash);
    }

    function reopen(bytes32 issueId, bytes32 reasonHash) external whenLedgerNotPaused {
        Issue storage i = _reviewable(issueId, IssueStatus.Repaired);
        i.status = IssueStatus.Returned;
        emit IssueReopened(issueId, i.datasetId, i.sourceDepartment, msg.sender, i.repairedVersion, reasonHash);
        emit IssueReturned(issueId, i.datasetId, i.sourceDepartment, msg.sender, reasonHash);
    }

    function issue(bytes32 issueId) external view returns (Issue memory) {
        Issue memory i = _issues[issueId];
        if (i.status == IssueStatus.None) revert QualityUnknownIssue(issueId);
        return i;
    }

    function issueIdOf(address opener, bytes32 code) external pure returns (bytes32) {
        return _issueIdOf(opener, code);
    }

    function _issueIdOf(address opener, bytes32 code) private pure returns (bytes32) {
        return keccak256(abi.encode(opener, code));
    }

    function _withStatus(bytes32 issueId, IssueStatus expected) private view returns (Issue storage i) {
        i = _issues[issueId];
        if (i.status == IssueStatus.None) revert QualityUnknownIssue(issueId);
        if (i.status != expected) revert QualityUnexpectedStatus(issueId, i.status);
    }

    function _reviewable(bytes32 issueId, IssueStatus expected) private view returns (Issue storage i) {
        i = _withStatus(issueId, expected);
        if (!_isReviewer(i) && !_callerIsCoordinator()) revert QualityNotReviewer(msg.sender, issueId);
    }

    /// @dev Whether the caller reviews for whoever opened `i`, the coordinator aside.
    function _isReviewer(Issue storage i) private view returns (bool) {
        if (i.openerDepartment != 0) return _consortium.departmentOf(msg.sender) == i.openerDepartment;
        // Opened by an auditor: that account alone, while still an auditor. An issue opened by
        // the coordinator is the coordinator's, which the caller checks apart.
        return msg.sender == i.opener && _consortium.isAuditor(msg.sender);
    }
}
