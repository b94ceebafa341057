// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev The PDMA quality loop: an issue against a dataset version is opened, returned to the
 * department that owns the dataset, repaired by a newer version, then verified and closed,
 * or reopened and returned again.
 *
 * Who acts: the coordinator, auditors and member departments open issues; the owning (source)
 * department repairs them; reviewers return, verify, close and reopen them. Review rights
 * belong to the department that opened the issue, not to one of its accounts. The reviewers of
 * an issue are:
 * - any current service account of the opener's department, if the opener served one;
 * - the opener itself while it still holds the role it opened with: an auditor still an
 *   auditor, a service account still serving the same department;
 * - the coordinator.
 * An opener serving a department opens for that department, whatever other role it holds.
 *
 * A repair rejected by {reopen} stays rejected: the next repair must be a newer version still.
 *
 * An issue's id is derived from its opener and a code the opener picks:
 * `issueId = keccak256(abi.encode(opener, code))` (see {issueIdOf}), so no one can take up an id
 * another opener will use.
 *
 * Lifecycle: Open -> Returned -> Repaired -> Closed, with Repaired -> Returned on reopening.
 */
interface IQualityBoard {
    enum IssueStatus {
        None,
        Open,
        Returned,
        Repaired,
        Closed
    }

    /**
     * @dev `openerDepartment` is the department the opener served, or zero if it opened the
     * issue as the coordinator or an auditor. `repairedVersion` is the last repair submitted:
     * the accepted one once Closed, the rejected one while Returned after {reopen}, zero before
     * any repair.
     */
    struct Issue {
        bytes32 datasetId;
        bytes32 sourceDepartment;
        bytes32 openerDepartment;
        address opener;
        uint32 version;
        uint32 repairedVersion;
        IssueStatus status;
        uint64 openedAt;
        bytes32 reportHash;
    }

    /// @dev The caller opened an issue under the same code, hence with `issueId`, already; or the
    /// code is zero (then `issueId` is zero).
    error QualityIssueExists(bytes32 issueId);
    /// @dev No issue with `issueId`.
    error QualityUnknownIssue(bytes32 issueId);
    /// @dev `issueId` is in `status`, where this step is not allowed.
    error QualityUnexpectedStatus(bytes32 issueId, IssueStatus status);
    /// @dev `account` may not open quality issues.
    error QualityNotInspector(address account);
    /// @dev `account` is not a reviewer of `issueId`: see the reviewers above.
    error QualityNotReviewer(address account, bytes32 issueId);
    /// @dev `account` does not serve the source department of `issueId`.
    error QualityNotSource(address account, bytes32 issueId);
    /**
     * @dev `repairedVersion` is not a version of the dataset newer than `newerThan`: the version
     * at issue or, after a {reopen}, the repair rejected last.
     */
    error QualityInvalidRepair(bytes32 issueId, uint32 newerThan, uint32 repairedVersion);

    /// @dev `opener` found a problem, described by `reportHash`, in `version` of `datasetId`.
    event IssueOpened(
        bytes32 indexed issueId,
        bytes32 indexed datasetId,
        bytes32 indexed sourceDepartment,
        address opener,
        uint32 version,
        bytes32 reportHash
    );
    /// @dev The issue went back to the department owning the data.
    event IssueReturned(bytes32 indexed issueId, bytes32 indexed datasetId, bytes32 indexed sourceDepartment, address by, bytes32 noteHash);
    /// @dev The source department repaired the issue with `repairedVersion`.
    event IssueRepaired(
        bytes32 indexed issueId,
        bytes32 indexed datasetId,
        bytes32 indexed sourceDepartment,
        address by,
        uint32 repairedVersion,
        bytes32 noteHash
    );
    /// @dev The repair with `repairedVersion` was verified, as described by `reportHash`, and the issue closed.
    event IssueClosed(
        bytes32 indexed issueId,
        bytes32 indexed datasetId,
        bytes32 indexed sourceDepartment,
        address by,
        uint32 repairedVersion,
        bytes32 reportHash
    );
    /// @dev The repair with `rejectedVersion` did not hold; the issue is returned again.
    event IssueReopened(
        bytes32 indexed issueId,
        bytes32 indexed datasetId,
        bytes32 indexed sourceDepartment,
        address by,
        uint32 rejectedVersion,
        bytes32 reasonHash
    );

    /**
     * @dev Opens an issue against an existing version of a dataset, under the id
     * `keccak256(abi.encode(msg.sender, code))`, which it returns.
     *
     * Requirements:
     * - the caller is the coordinator, an auditor or a member department's service account;
     * - not paused; `code` is not zero and the caller has not used it before; the version exists.
     *
     * Emits {IssueOpened}.
     */
    function openIssue(
        bytes32 code,
        bytes32 datasetId,
        uint32 version,
        bytes32 reportHash
    ) external returns (bytes32 issueId);

    /**
     * @dev Returns an open issue to the source department.
     *
     * Requirements:
     * - the caller is a reviewer of the issue; not paused; the issue is Open.
     *
     * Emits {IssueReturned}.
     */
    function returnToSource(bytes32 issueId, bytes32 noteHash) external;

    /**
     * @dev Declares the issue repaired by a newer version.
     *
     * Requirements:
     * - the caller serves the source department; not paused; the issue is Returned;
     * - `repairedVersion` exists and is newer than the version at issue and than any repair
     *   rejected before.
     *
     * Emits {IssueRepaired}.
     */
    function submitRepair(bytes32 issueId, uint32 repairedVersion, bytes32 noteHash) external;

    /**
     * @dev Verifies the repair and closes the issue.
     *
     * Requirements:
     * - the caller is a reviewer of the issue; not paused; the issue is Repaired.
     *
     * Emits {IssueClosed}.
     */
    function verifyAndClose(bytes32 issueId, bytes32 reportHash) external;

    /**
     * @dev Rejects the repair for good; the issue is returned to the source department again.
     *
     * Requirements:
     * - the caller is a reviewer of the issue; not paused; the issue is Repaired.
     *
     * Emits {IssueReopened} and {IssueReturned}.
     */
    function reopen(bytes32 issueId, bytes32 reasonHash) external;

    /// @dev The issue; reverts with {QualityUnknownIssue}.
    function issue(bytes32 issueId) external view returns (Issue memory);

    /// @dev The id `opener` gets for `code`: `keccak256(abi.encode(opener, code))`.
    function issueIdOf(address opener, bytes32 code) external pure returns (bytes32);
}
