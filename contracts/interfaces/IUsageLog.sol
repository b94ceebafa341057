// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IAccessGrants} from "./IAccessGrants.sol";

/**
 * @dev Every use of data, checked against its grant at the moment it is recorded, and the
 * settlement statements both sides of a grant acknowledge.
 *
 * Who records what: the department owning the dataset records the uses it serves (collect,
 * store, manage, share-out, open, settle, query, download) through its service accounts; the
 * grantee records its own analysis and onward sharing. A use must also be among the actions
 * its grant allows (bit `1 << action` of the grant's `actions`).
 *
 * {recordUse} reverts on a refused use. {recordUses} records a whole batch in one
 * transaction: it keeps the uses that pass and logs each refused one with {UseRefused}, so
 * one bad use neither sinks the batch nor goes unseen. Batch and use ids are single-use per
 * caller: each caller has its own space of ids (see {idUsed}), so a resent transaction is
 * refused instead of counted twice, and no caller can take up an id another will use.
 *
 * A use is refused once its grantee is no longer registered (a consumer its sponsor removed, a
 * service account no longer serving a member department), even while the grant is still Active.
 *
 * Queries of a query grant ({IAccessGrants-requestQueryAccess}) are recorded by the owner
 * department with {recordQueries}, each with the ε it spent (in micro-ε), and are refused past the
 * grant's ε cap per query or its ε budget; each accepted one is also a use (quota, {UseRecorded}).
 * A Query use recorded by {recordUse} or {recordUses} spends no ε, so on a grant with privacy
 * terms it is refused as over the cap ({Refusal}.EpsilonOverCap).
 *
 * A query the owner's node refused to run is recorded too, with {recordRefusedQueries}: an
 * attempt the auditor sees ({QueryRefused}), spending neither quota nor ε.
 *
 * Settlement statements are keyed by the owner department and the statement id together
 * (storage key `keccak256(abi.encode(ownerDepartment, statementId))`), so a department can issue
 * statements only under its own name.
 */
interface IUsageLog {
    enum Action {
        Collect,
        Store,
        Manage,
        Share,
        Open,
        Analyse,
        Settle,
        Query,
        Download
    }

    enum Refusal {
        None,
        UnknownGrant,
        CallerNotAllowed,
        Revoked,
        NotActive,
        Expired,
        DatasetFrozen,
        ActionNotGranted,
        QuotaExhausted,
        GranteeRemoved,
        NoPrivacyTerms,
        EpsilonOverCap,
        BudgetExhausted
    }

    /// @dev Why the owner's node refused to run a query. Every reason but `SqlUnreadable` names
    /// the hash of the SQL as the node normalised it; `SqlUnreadable` (the text does not parse as
    /// one SQL statement) names the hash of the raw text.
    enum QueryRefusal {
        SqlNotAllowed,
        IdentifyingField,
        SqlUnreadable,
        EpsilonOverCap,
        BudgetExhausted,
        QuotaExhausted,
        NoPrivacyTerms,
        GrantNotAllowing
    }

    struct UseInput {
        bytes32 grantId;
        Action action;
        bytes32 evidenceHash;
    }

    /// @dev One query run at the owner's node: the hash of its normalised SQL, the hash of the
    /// released result, the ε it spent (micro-ε) and the rows it scanned.
    struct QueryInput {
        bytes32 grantId;
        bytes32 queryHash;
        bytes32 resultHash;
        uint64 epsilon;
        uint64 rowsScanned;
    }

    /// @dev One query the owner's node refused: the hash of its SQL (see {QueryRefusal}) and why.
    struct RefusedQueryInput {
        bytes32 grantId;
        bytes32 queryHash;
        QueryRefusal reason;
    }

    struct StatementInput {
        bytes32 statementId;
        bytes32 ownerDepartment;
        address consumer;
        uint64 periodStart;
        uint64 periodEnd;
        uint128 amount;
        bytes32 statementHash;
    }

    /// @dev `actor` recorded a batch or use under `id` already.
    error UsageIdUsed(address actor, bytes32 id);
    /// @dev A batch holds at least one use.
    error UsageEmptyBatch(bytes32 batchId);
    /// @dev Use and batch ids are not zero.
    error UsageInvalidId(bytes32 id);
    /// @dev No grant with `grantId`.
    error UsageUnknownGrant(bytes32 grantId);
    /// @dev `account` may not record `action` under `grantId`.
    error UsageCallerNotAllowed(address account, bytes32 grantId, Action action);
    /// @dev `grantId` was revoked.
    error UsageGrantRevoked(bytes32 grantId);
    /// @dev `grantId` is in `status`, not Active.
    error UsageGrantNotActive(bytes32 grantId, IAccessGrants.Status status);
    /// @dev `grantId` expired at `expiresAt`.
    error UsageGrantExpired(bytes32 grantId, uint64 expiresAt);
    /// @dev The dataset of the grant is frozen.
    error UsageDatasetFrozen(bytes32 datasetId);
    /// @dev `grantId` does not allow `action`.
    error UsageActionNotGranted(bytes32 grantId, Action action);
    /// @dev All `maxUses` uses of `grantId` are spent.
    error UsageQuotaExhausted(bytes32 grantId, uint32 maxUses);
    /// @dev `grantee` of `grantId` is neither a consumer nor a member department's service account any more.
    error UsageGranteeRemoved(bytes32 grantId, address grantee);
    /// @dev A query of `grantId` spending `epsilon` is over its cap (a Query use outside
    /// {recordQueries} spends 0, which no query grant accepts).
    error UsageEpsilonOverCap(bytes32 grantId, uint64 epsilon);
    /// @dev `account` is neither the owner department's service account nor the consumer.
    error UsageNotStatementParty(address account, bytes32 statementId);
    /// @dev The statement differs from the one the other side acknowledged as `statementHash`.
    error UsageStatementMismatch(bytes32 statementId, bytes32 statementHash);
    /// @dev Only the owner department issues a statement: the consumer acknowledges it after.
    error UsageStatementNotIssued(bytes32 statementId, address account);
    /// @dev `account`'s side already acknowledged `statementId`.
    error UsageStatementAcknowledged(bytes32 statementId, address account);

    /// @dev Use number `sequence` of `grantId`, by `actor`, with evidence `evidenceHash`
    /// (for a delivery: the hash of exactly the bytes delivered).
    event UseRecorded(
        bytes32 indexed grantId,
        bytes32 indexed datasetId,
        address indexed actor,
        Action action,
        bytes32 evidenceHash,
        uint32 sequence
    );
    /// @dev Query `sequence` of `grantId` (the same number as its {UseRecorded}): hashes of its
    /// normalised SQL and released result, the ε it spent and the grant's ε spent after it (micro-ε).
    event QueryRecorded(
        bytes32 indexed grantId,
        uint32 indexed sequence,
        bytes32 queryHash,
        bytes32 resultHash,
        uint64 epsilon,
        uint64 epsilonSpent,
        uint64 rowsScanned
    );
    /// @dev The owner's node refused to run a query of `consumer` (the grantee) under `grantId`,
    /// for `reason`; `queryHash` as {QueryRefusal} says. Nothing was spent.
    event QueryRefused(bytes32 indexed grantId, address indexed consumer, bytes32 queryHash, QueryRefusal reason);
    /// @dev A use of `grantId` was refused for `reason`.
    event UseRefused(bytes32 indexed grantId, address indexed actor, Action action, bytes32 evidenceHash, Refusal reason);
    /// @dev Batch `batchId` recorded `recorded` uses and refused `refused`; a single use is a
    /// batch of one under its use id. The uses are the events of the same transaction.
    event UsesBatchRecorded(bytes32 indexed batchId, address indexed actor, uint32 recorded, uint32 refused);
    /// @dev `party` acknowledged `statementId` for the period and amount given.
    event StatementAcknowledged(
        bytes32 indexed statementId,
        bytes32 indexed ownerDepartment,
        address indexed consumer,
        address party,
        uint64 periodStart,
        uint64 periodEnd,
        uint128 amount,
        bytes32 statementHash
    );
    /// @dev Both sides acknowledged `statementId`.
    event StatementSettled(bytes32 indexed statementId, bytes32 statementHash);

    /**
     * @dev Records one use, checked against its grant.
     *
     * Requirements:
     * - not paused; `useId` is not zero and new for the caller (the caller's ids of uses and
     *   batches share one space);
     * - the grant exists, is Active, unexpired, within quota and allows `action`;
     * - its grantee is still registered; its dataset is not frozen; the caller may record
     *   `action` (see above).
     *
     * Emits {UseRecorded} and {UsesBatchRecorded}.
     */
    function recordUse(bytes32 useId, UseInput calldata use) external returns (uint32 sequence);

    /**
     * @dev Records a batch of uses in one transaction. Uses of the same grant placed next to
     * each other are checked against one read of the grant.
     *
     * Requirements:
     * - not paused; `batchId` is not zero and new for the caller; `uses` is not empty.
     *
     * Emits {UseRecorded} or {UseRefused} per use, then {UsesBatchRecorded}.
     */
    function recordUses(bytes32 batchId, UseInput[] calldata uses) external returns (uint32 recorded);

    /**
     * @dev Records a batch of queries run at the owner's node, each a Query use of its grant.
     *
     * Requirements:
     * - not paused; `batchId` is not zero and new for the caller (the same id space as uses);
     *   `queries` is not empty.
     *
     * Per query, refused with {UseRefused} unless: the checks of {recordUse} for Query pass
     * (the caller serves the owner department); the grant has privacy terms; `epsilon` is not
     * zero and at most the cap; the grant's ε spent plus `epsilon` is at most its budget.
     * The query hash is the use's evidence hash.
     *
     * Emits {UseRecorded} and {QueryRecorded}, or {UseRefused}, per query, then {UsesBatchRecorded}.
     */
    function recordQueries(bytes32 batchId, QueryInput[] calldata queries) external returns (uint32 recorded);

    /**
     * @dev Records a batch of queries the owner's node refused to run, so the attempts are
     * traced; they spend neither quota nor ε. A run of refusals of the same grant placed next
     * to each other is checked against one read of the grant.
     *
     * Requirements:
     * - not paused; `batchId` is not zero and new for the caller (the same id space as uses);
     *   `refusals` is not empty;
     * - every grant exists and the caller serves the department owning its dataset, whatever
     *   the grant's status (a revoked grant's attempts are recorded too).
     *
     * Emits {QueryRefused} per refusal.
     */
    function recordRefusedQueries(bytes32 batchId, RefusedQueryInput[] calldata refusals) external;

    /**
     * @dev Acknowledges a settlement statement. The owner department issues it, which fixes
     * its terms; the consumer must acknowledge the same terms, and then it is settled. The
     * statement is kept under `ownerDepartment` and `statementId` together.
     *
     * Requirements:
     * - not paused; the caller serves `ownerDepartment` or is `consumer`;
     * - the owner department's side comes first;
     * - the caller's side has not acknowledged it; the terms match the issued ones.
     *
     * Emits {StatementAcknowledged}, and {StatementSettled} on the second side.
     */
    function acknowledgeStatement(StatementInput calldata statement) external;

    /// @dev How many uses of `grantId` were recorded.
    function usesOf(bytes32 grantId) external view returns (uint32);

    /// @dev The ε (micro-ε) the accepted queries of `grantId` spent, never above its budget.
    function epsilonSpent(bytes32 grantId) external view returns (uint64);

    /// @dev Whether `actor` recorded a batch or use under `id`.
    function idUsed(address actor, bytes32 id) external view returns (bool);

    /// @dev The hash of statement `statementId` of `ownerDepartment`, and which sides acknowledged it.
    function statement(
        bytes32 ownerDepartment,
        bytes32 statementId
    ) external view returns (bytes32 statementHash, bool ownerAcknowledged, bool consumerAcknowledged);
}
