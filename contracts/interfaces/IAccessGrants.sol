// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev Access to a dataset is reviewed before any use: a consumer requests it with a purpose,
 * the fields it needs by name (against a schema), the actions it needs, a duration and a quota;
 * the owner department approves or rejects with a reason; on grades 3 and 4 a coordinator that
 * does not serve the owner co-approves too.
 *
 * The grant id is derived from the grantee and a request key the grantee picks:
 * `grantId = keccak256(abi.encode(grantee, requestKey))` (see {grantIdOf}). A resent request is
 * refused instead of applied twice, and no one can occupy another's grant id.
 *
 * The purpose is given as text, so that every reviewer reads what the consumer wrote: the grant
 * keeps `purposeHash = keccak256(bytes(purpose))`, computed here, never chosen by the caller.
 *
 * The fields are kept as `fieldsHash = keccak256(abi.encode(fields))`, the ABI encoding of the
 * `string[]` of names in the order requested; the names themselves are in {AccessRequested}.
 *
 * Lifecycle: Pending -> (owner approves) -> [AwaitingCoApproval -> (coordinator co-approves)]
 * -> Active -> Revoked; a pending request can be Rejected or Withdrawn. An Active grant
 * expires at `expiresAt`, counted from activation. A grant whose grantee is no longer
 * registered can be lapsed by anyone: it ends Revoked.
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

    /// @dev `purpose` is 1 to {MAX_PURPOSE_LENGTH} bytes of UTF-8 text, kept on chain as
    /// `purposeHash = keccak256(bytes(purpose))` and in full in {AccessRequested};
    /// `fields` are 0 to {MAX_FIELDS} names of 1 to {MAX_FIELD_LENGTH} bytes each.
    struct RequestInput {
        bytes32 datasetId;
        string purpose;
        bytes32 schemaHash;
        string[] fields;
        uint16 actions;
        uint64 duration;
        uint32 maxUses;
    }

    /// @dev A query grant's privacy terms: the total ε (`epsilonBudget`) and the most one query may
    /// spend (`epsilonCap`), both in micro-ε; the smallest group released (`minGroupSize`, k); and
    /// `bounds`, JSON text of the clamping bounds per numeric field the noise is calibrated to,
    /// 0 to {MAX_BOUNDS_LENGTH} bytes, kept as `boundsHash = keccak256(bytes(bounds))`.
    struct PrivacyTerms {
        uint64 epsilonBudget;
        uint64 epsilonCap;
        uint32 minGroupSize;
        string bounds;
    }

    /// @dev What a grant keeps of its {PrivacyTerms}: one storage slot and the bounds' hash.
    struct StoredPrivacyTerms {
        uint64 epsilonBudget;
        uint64 epsilonCap;
        uint32 minGroupSize;
        bytes32 boundsHash;
    }

    /// @dev Laid out so that {useTerms} reads three storage slots; `fieldsHash` as above.
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
        bytes32 fieldsHash;
        bytes32 schemaHash;
    }

    /// @dev The caller asked under the same request key, hence for `grantId`, already.
    error GrantsRequestExists(bytes32 grantId);
    /// @dev No request or grant with `grantId`.
    error GrantsUnknownGrant(bytes32 grantId);
    /// @dev `account` is neither a consumer nor a member department's service account.
    error GrantsNotConsumer(address account);
    /// @dev A request needs a non-zero request key (else `grantId` is zero), quota and action set,
    /// and a duration of 1 s to 100 years.
    error GrantsInvalidTerms(bytes32 grantId, uint64 duration, uint32 maxUses, uint16 actions);
    /// @dev A purpose is 1 to {MAX_PURPOSE_LENGTH} bytes; this one is `length` bytes.
    error GrantsInvalidPurpose(uint256 length);
    /// @dev Field `index` is empty or longer than {MAX_FIELD_LENGTH} bytes, or is beyond the
    /// {MAX_FIELDS} a request may name.
    error GrantsInvalidFields(uint256 index);
    /// @dev `account` does not serve the department that owns `datasetId`.
    error GrantsNotReviewer(address account, bytes32 datasetId);
    /// @dev `account` is not a coordinator.
    error GrantsNotCoordinator(address account);
    /// @dev Coordinator `account` serves the department owning `datasetId`: another coordinator co-approves.
    error GrantsCoordinatorIsOwner(address account, bytes32 datasetId);
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
    /// @dev A query grant allows {IUsageLog-Action}.Query, has `0 < epsilonCap <= epsilonBudget` and
    /// `minGroupSize >= 2`.
    error GrantsInvalidPrivacyTerms(bytes32 grantId, uint64 epsilonBudget, uint64 epsilonCap, uint32 minGroupSize);
    /// @dev Bounds are 0 to {MAX_BOUNDS_LENGTH} bytes; these are `length` bytes.
    error GrantsInvalidBounds(uint256 length);
    /// @dev `grantee` of `grantId` is still a consumer or a member department's service account.
    error GrantsGranteeRegistered(bytes32 grantId, address grantee);

    /// @dev `grantee` asked for access to `fields` of `datasetId`, as named by the schema `schemaHash`,
    /// for `purpose` (whose keccak256 is `purposeHash`).
    event AccessRequested(
        bytes32 indexed grantId,
        bytes32 indexed datasetId,
        address indexed grantee,
        bytes32 purposeHash,
        string purpose,
        bytes32 schemaHash,
        string[] fields,
        uint16 actions,
        uint64 duration,
        uint32 maxUses
    );
    /// @dev `grantId` was asked for as a query grant with these privacy terms (ε in micro-ε); emitted
    /// right after its {AccessRequested}.
    event QueryTermsRequested(
        bytes32 indexed grantId,
        uint64 epsilonBudget,
        uint64 epsilonCap,
        uint32 minGroupSize,
        string bounds
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
    /// @dev `by` ended `grantId` because `grantee` is no longer registered; the grant is Revoked.
    event GrantLapsed(bytes32 indexed grantId, bytes32 indexed datasetId, address indexed grantee, address by);

    /**
     * @dev Asks for access to a dataset; the caller becomes the grantee of the grant
     * `keccak256(abi.encode(msg.sender, requestKey))`, whose id it returns.
     *
     * Requirements:
     * - the caller is a consumer or a member department's service account; not paused;
     * - `requestKey` is not zero and the caller has not used it before; the dataset exists,
     *   is not frozen and is not the caller's own department's;
     * - maxUses and actions are not zero; duration is 1 s to 100 years;
     * - the purpose is 1 to {MAX_PURPOSE_LENGTH} bytes;
     * - at most {MAX_FIELDS} fields, each of 1 to {MAX_FIELD_LENGTH} bytes.
     *
     * Emits {AccessRequested}.
     */
    function requestAccess(bytes32 requestKey, RequestInput calldata input) external returns (bytes32 grantId);

    /**
     * @dev Asks for a query grant: as {requestAccess}, with privacy terms the owner reviews with
     * the rest and that hold for the grant's whole life.
     *
     * Requirements:
     * - those of {requestAccess};
     * - `input.actions` includes Query (bit 7); `0 < epsilonCap <= epsilonBudget`;
     *   `minGroupSize >= 2`; `bounds` is at most {MAX_BOUNDS_LENGTH} bytes.
     *
     * Emits {AccessRequested} and {QueryTermsRequested}.
     */
    function requestQueryAccess(
        bytes32 requestKey,
        RequestInput calldata input,
        PrivacyTerms calldata terms
    ) external returns (bytes32 grantId);

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
     * @dev A coordinator's co-approval of an approved request on grade 3 or 4, by a coordinator
     * that does not serve the owner department, so that two departments always decide.
     *
     * Requirements:
     * - the caller is a coordinator and does not serve the department owning the dataset; not paused;
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

    /**
     * @dev Ends a grant whose grantee is no longer registered (a consumer its sponsor removed,
     * a service account its department removed or left), so that it stops counting as live.
     * Anyone may call it.
     *
     * Requirements:
     * - not paused; the grant is Pending, AwaitingCoApproval or Active;
     * - the grantee is neither a consumer nor a member department's service account.
     *
     * Emits {GrantLapsed}.
     */
    function lapse(bytes32 grantId) external;

    /// @dev The longest purpose, in bytes.
    function MAX_PURPOSE_LENGTH() external view returns (uint256);

    /// @dev The most fields a request may name.
    function MAX_FIELDS() external view returns (uint256);

    /// @dev The longest field name, in bytes.
    function MAX_FIELD_LENGTH() external view returns (uint256);

    /// @dev The longest bounds text of a query grant, in bytes.
    function MAX_BOUNDS_LENGTH() external view returns (uint256);

    /// @dev The grant id `grantee` gets for `requestKey`: `keccak256(abi.encode(grantee, requestKey))`.
    function grantIdOf(address grantee, bytes32 requestKey) external pure returns (bytes32);

    /// @dev The grant; reverts with {GrantsUnknownGrant} if absent.
    function grant(bytes32 grantId) external view returns (Grant memory);

    /// @dev What a use is checked against, in one call; `status` is None for an unknown id.
    function useTerms(
        bytes32 grantId
    )
        external
        view
        returns (address grantee, Status status, uint16 actions, uint64 expiresAt, uint32 maxUses, bytes32 datasetId);

    /// @dev The privacy terms of `grantId` (ε in micro-ε); all zero when it has none.
    function privacyTerms(
        bytes32 grantId
    ) external view returns (uint64 epsilonBudget, uint64 epsilonCap, uint32 minGroupSize, bytes32 boundsHash);
}
