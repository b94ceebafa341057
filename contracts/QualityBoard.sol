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

    function openIssue(bytes32 issueId, bytes32 datasetId, uint32 version, bytes32 reportHash) external whenLedgerNotPaused {
        if (
            _consortium.departmentOf(msg.sender) == 0 && !_callerIsCoordinator() && !_consortium.isAuditor(msg.sender)
        ) revert QualityNotInspector(msg.sender);
        if (issueId == 0 || _issues[issueId].status != IssueStatus.None) revert QualityIssueExists(issueId);
        _registry.version(datasetId, version);
        (bytes32 source, , ) = _registry.useStatus(datasetId);
        _issues[issueId] = Issue({
            datasetId: datasetId,
            sourceDepartment: source,
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
        if (repairedVersion <= i.version || repairedVersion > _registry.dataset(i.datasetId).versionCount) {
            revert QualityInvalidRepair(issueId, i.version, repairedVersion);
        }
        i.status = IssueStatus.Repaired;
        i.repairedVersion = repairedVersion;
        emit IssueRepaired(issueId, i.datasetId, msg.sender, repairedVersion, noteHash);
    }

    function verifyAndClose(bytes32 issueId, bytes32 reportHash) external whenLedgerNotPaused {
        Issue storage i = _reviewable(issueId, IssueStatus.Repaired);
        i.status = IssueStatus.Closed;
        emit IssueClosed(issueId, i.datasetId, msg.sender, reportHash);
    }

    function reopen(bytes32 issueId, bytes32 reasonHash) external whenLedgerNotPaused {
        Issue storage i = _reviewable(issueId, IssueStatus.Repaired);
        i.status = IssueStatus.Returned;
        emit IssueReopened(issueId, i.datasetId, msg.sender, reasonHash);
        emit IssueReturned(issueId, i.datasetId, i.sourceDepartment, msg.sender, reasonHash);
    }

    function issue(bytes32 issueId) external view returns (Issue memory) {
        Issue memory i = _issues[issueId];
        if (i.status == IssueStatus.None) revert QualityUnknownIssue(issueId);
        return i;
    }

    function _withStatus(bytes32 issueId, IssueStatus expected) private view returns (Issue storage i) {
        i = _issues[issueId];
        if (i.status == IssueStatus.None) revert QualityUnknownIssue(issueId);
        if (i.status != expected) revert QualityUnexpectedStatus(issueId, i.status);
    }

    function _reviewable(bytes32 issueId, IssueStatus expected) private view returns (Issue storage i) {
        i = _withStatus(issueId, expected);
        if (msg.sender != i.opener && !_callerIsCoordinator()) revert QualityNotReviewer(msg.sender, issueId);
    }
}
