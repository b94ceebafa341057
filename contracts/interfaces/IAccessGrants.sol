// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev Access to a dataset is reviewed before any use: a consumer requests it with a purpose,
 * a scope of fields, the actions it needs, a duration and a quota; the owner department
 * approves or rejects with a reason; on grades 3 and 4 the coordinator co-approves too. The
 * request id is chosen by the consumer and doubles as the grant id, so a resent request is
 * refused instead of applied twice.
 *
 * Lifecycle: Pending -> (owner approves) -> [AwaitingCoApproval -> (coordinator co-approves)]
 * -> Active -> Revoked; a pending request can be Rejected or Withdrawn. An Active grant
 * expires at `expiresAt`, counted from activation.
 */
interface IAccessGrants {
    enum Status {
        None,
        Pending,
        AwaitingCoApproval,
        Active,
        Rejected,
        Withdrawn,
        Revoked
    }

    struct RequestInput {
        bytes32 datasetId;
        bytes32 purposeHash;
        uint256 fieldScope;
        uint16 actions;
        uint64 duration;
        uint32 maxUses;
    }

    /// @dev Laid out so that {useTerms} reads three storage slots.
    struct Grant {
        address grantee;
        Status status;
        uint16 actions;
        uint64 expiresAt;
        uint32 maxUses;
        uint64 duration;
        uint64 requestedAt;
        uint96 pricePerUse;
        bytes32 datasetId;
        bytes32 purposeHash;
        uint256 fieldScope;
    }

    /// @dev A request with `grantId` already exists.
    error GrantsRequestExists(bytes32 grantId);
    /// @dev No request or grant with `grantId`.
    error GrantsUnknownGrant(bytes32 grantId);
    /// @dev `account` is neither a consumer nor a member department's service account.
    error GrantsNotConsumer(address account);
    /// @dev A request needs a non-zero id, quota and action set, and a duration of 1 s to 100 years.
    error GrantsInvalidTerms(bytes32 grantId, uint64 duration, uint32 maxUses, uint16 actions);
    /// @dev `account` does not serve the department that owns `datasetId`.
    error GrantsNotReviewer(address account, bytes32 datasetId);
    /// @dev `account` is not the coordinator.
    error GrantsNotCoordinator(address account);
    /// @dev `account` is neither the owner's service account nor the coordinator.
    error GrantsNotOwnerOrCoordinator(address account, bytes32 grantId);
    /// @dev `account` is not the consumer who asked for `grantId`.
    error GrantsNotGrantee(address account, bytes32 grantId);
    /// @dev `grantId` is in `status`, where this step is not allowed.
    error GrantsUnexpectedStatus(bytes32 grantId, Status status);
    /// @dev `datasetId` is frozen.
    error GrantsDatasetFrozen(bytes32 datasetId);
    /// @dev A department needs no grant for its own dataset `datasetId`.
    error GrantsOwnDataset(bytes32 datasetId);

    /// @dev `grantee` asked for access to `datasetId`.
    event AccessRequested(
        bytes32 indexed grantId,
        bytes32 indexed datasetId,
        address indexed grantee,
        bytes32 purposeHash,
        uint256 fieldScope,
        uint16 actions,
        uint64 duration,
        uint32 maxUses
    );
    /// @dev The owner department approved `grantId` through `reviewer`, at `pricePerUse`.
    event RequestApproved(
        bytes32 indexed grantId,
        bytes32 indexed datasetId,
        address indexed reviewer,
        bytes32 reasonHash,
        uint96 pricePerUse,
        bool coApprovalRequired
    );
    /// @dev The coordinator co-approved `grantId` on a sensitive grade.
    event RequestCoApproved(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed coordinator, bytes32 reasonHash);
    /// @dev `grantId` became usable by `grantee` until `expiresAt`, up to `maxUses` uses.
    event GrantActivated(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed grantee, uint64 expiresAt, uint32 maxUses);
    /// @dev `reviewer` rejected `grantId` for the reason described by `reasonHash`.
    event RequestRejected(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed reviewer, bytes32 reasonHash);
    /// @dev The consumer withdrew its pending request.
    event RequestWithdrawn(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed grantee);
    /// @dev `by` revoked `grantId` for the reason described by `reasonHash`.
    event GrantRevoked(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed by, bytes32 reasonHash);

    /**
     * @dev Asks for access to a dataset; the caller becomes the grantee.
     *
     * Requirements:
     * - the caller is a consumer or a member department's service account; not paused;
     * - `grantId` is new and not zero; the dataset exists, is not frozen and is not the
     *   caller's own department's;
     * - maxUses and actions are not zero; duration is 1 s to 100 years.
     *
     * Emits {AccessRequested}.
     */
    function requestAccess(bytes32 grantId, RequestInput calldata input) external;

    /**
     * @dev Approves a pending request. On grades 3 and 4 the grant then awaits the
     * coordinator; otherwise it is active at once.
     *
     * Requirements:
     * - the caller serves the department owning the dataset; not paused;
     * - the request is Pending; the dataset is not frozen;
     * - the grantee is still a consumer or a member department's service account.
     *
     * Emits {RequestApproved}, and {GrantActivated} unless co-approval is required.
     */
    function approve(bytes32 grantId, bytes32 reasonHash, uint96 pricePerUse) external;

    /**
     * @dev The coordinator's co-approval of an approved request on grade 3 or 4.
     *
     * Requirements:
     * - the caller is the coordinator; not paused;
     * - the request is AwaitingCoApproval; the dataset is not frozen;
     * - the grantee is still a consumer or a member department's service account.
     *
     * Emits {RequestCoApproved} and {GrantActivated}.
     */
    function coApprove(bytes32 grantId, bytes32 reasonHash) external;

    /**
     * @dev Rejects a request: the owner while Pending or AwaitingCoApproval, the coordinator
     * while AwaitingCoApproval.
     *
     * Requirements:
     * - the caller is as above; not paused.
     *
     * Emits {RequestRejected}.
     */
    function reject(bytes32 grantId, bytes32 reasonHash) external;

    /**
     * @dev Withdraws the caller's own request before it is decided.
     *
     * Requirements:
     * - the caller is the grantee; not paused;
     * - the request is Pending or AwaitingCoApproval.
     *
     * Emits {RequestWithdrawn}.
     */
    function withdraw(bytes32 grantId) external;

    /**
     * @dev Revokes an active grant: no further use is accepted.
     *
     * Requirements:
     * - the caller serves the owner department or is the coordinator; not paused;
     * - the grant is Active.
     *
     * Emits {GrantRevoked}.
     */
    function revoke(bytes32 grantId, bytes32 reasonHash) external;

    /// @dev The grant; reverts with {GrantsUnknownGrant} if absent.
    function grant(bytes32 grantId) external view returns (Grant memory);

    /// @dev What a use is checked against, in one call; `status` is None for an unknown id.
    function useTerms(
        bytes32 grantId
    )
        external
        view
        returns (address grantee, Status status, uint16 actions, uint64 expiresAt, uint32 maxUses, bytes32 datasetId);
}
