// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev The member departments of the consortium, the roles of everyone else, and the
 * majority votes that admit or remove a department. Every other provledger contract asks
 * this one who a caller is and whether the ledger is paused.
 *
 * Roles (OpenZeppelin AccessControl):
 * - a department acts through its service accounts (DEPARTMENT_ROLE);
 * - the coordinator (COORDINATOR_ROLE) seats the founding departments, co-approves grants on
 *   sensitive grades, opens quality issues and can pause the ledger;
 * - auditors (AUDITOR_ROLE) are appointed by the coordinator;
 * - consumers (CONSUMER_ROLE) are sponsored by a member department.
 *
 * DEPARTMENT_ROLE and CONSUMER_ROLE follow membership: only this contract's functions grant,
 * revoke or give them up, never `grantRole`, `revokeRole` or `renounceRole`. A service account
 * joins a department only by accepting the department's offer with its own signature, so no
 * department can enlist an account that did not agree to serve it. Each department has at most
 * {MAX_SERVICE_ACCOUNTS} of them, and an auditor can be neither a service account nor a consumer.
 *
 * The consortium always keeps a coordinator: the last one can neither renounce the role nor
 * have it revoked.
 *
 * A proposal passes when a majority of the departments that are members when it is executed
 * voted for it: votes of departments removed since do not count.
 */
interface IConsortium {
    enum ProposalKind {
        Admit,
        Remove
    }

    enum ProposalStatus {
        None,
        Open,
        Executed
    }

    struct Department {
        string name;
        address validator;
        bool active;
        uint64 admittedAt;
    }

    /**
     * @dev `yesVotes` counts every vote cast, by departments that were members when they voted;
     * `quorum` is the majority of the members when the proposal was opened. Whether the proposal
     * can pass now is {tally}'s answer, not these two fields'.
     */
    struct Proposal {
        ProposalKind kind;
        ProposalStatus status;
        uint32 yesVotes;
        uint32 quorum;
        uint64 deadline;
        bytes32 departmentId;
        address validator;
        address serviceAccount;
        address proposer;
        string name;
    }

    /// @dev The founding phase is over: departments now join only by a members' vote.
    error ConsortiumFoundingClosed();
    /// @dev `departmentId` is already a member (or was one: ids are never reused).
    error ConsortiumDepartmentExists(bytes32 departmentId);
    /// @dev `departmentId` is not an active member department.
    error ConsortiumUnknownDepartment(bytes32 departmentId);
    /// @dev `account` is not a service account of an active member department.
    error ConsortiumNotADepartment(address account);
    /// @dev `account` already serves department `departmentId`, or (with a zero id) is a consumer or an auditor.
    error ConsortiumAccountInUse(address account, bytes32 departmentId);
    /// @dev `account` is the zero address, or an id or name is empty.
    error ConsortiumInvalidArgument(address account, bytes32 id);
    /// @dev A department must keep at least one service account.
    error ConsortiumLastServiceAccount(bytes32 departmentId);
    /// @dev A proposal with `proposalId` already exists.
    error ConsortiumProposalExists(bytes32 proposalId);
    /// @dev No proposal with `proposalId`.
    error ConsortiumUnknownProposal(bytes32 proposalId);
    /// @dev The proposal is no longer open.
    error ConsortiumProposalClosed(bytes32 proposalId, ProposalStatus status);
    /// @dev The proposal's voting period ended at `deadline`.
    error ConsortiumProposalExpired(bytes32 proposalId, uint64 deadline);
    /// @dev Department `departmentId` already voted on `proposalId`.
    error ConsortiumAlreadyVoted(bytes32 proposalId, bytes32 departmentId);
    /**
     * @dev `yesVotes` current members voted for the proposal, fewer than the `quorum` a majority
     * of the current members needs.
     */
    error ConsortiumNoMajority(bytes32 proposalId, uint32 yesVotes, uint32 quorum);
    /// @dev The consortium cannot remove its last department.
    error ConsortiumLastDepartment(bytes32 departmentId);
    /// @dev `account` is not a consumer.
    error ConsortiumUnknownConsumer(address account);
    /// @dev `account` may not act for the sponsor of `consumer`.
    error ConsortiumNotSponsor(address account, address consumer);
    /// @dev `account` is neither a member department's service account nor the coordinator.
    error ConsortiumNotMemberOrCoordinator(address account);
    /// @dev The ledger is paused in an emergency; no writes until the coordinator unpauses it.
    error ConsortiumIsPaused();
    /// @dev `role` changes only with membership: it cannot be renounced.
    error ConsortiumRoleFollowsMembership(bytes32 role);
    /// @dev Department `departmentId` has not offered `account` a place among its service accounts.
    error ConsortiumNoOffer(address account, bytes32 departmentId);
    /// @dev Department `departmentId` has its maximum of service accounts already.
    error ConsortiumTooManyServiceAccounts(bytes32 departmentId);
    /// @dev The consortium would be left without a coordinator.
    error ConsortiumLastCoordinator();

    /// @dev Department `departmentId` became a member, with `validator` as its consensus signer.
    event DepartmentAdmitted(
        bytes32 indexed departmentId,
        address indexed validator,
        bytes32 indexed proposalId,
        string name,
        address serviceAccount
    );
    /**
     * @dev Department `departmentId` stopped being a member; `validator` stops signing blocks.
     * Follows a {ServiceAccountRemoved} for each of its service accounts.
     */
    event DepartmentRemoved(bytes32 indexed departmentId, address indexed validator, bytes32 indexed proposalId);
    /// @dev Department `departmentId`, through `by`, offered `account` a place among its service accounts.
    event ServiceAccountOffered(bytes32 indexed departmentId, address indexed account, address by);
    /// @dev `account` now acts for department `departmentId`; `by` is the account itself when it accepted an offer.
    event ServiceAccountAdded(bytes32 indexed departmentId, address indexed account, address indexed by);
    /// @dev `account` no longer acts for department `departmentId`: it was removed, or the department was.
    event ServiceAccountRemoved(bytes32 indexed departmentId, address indexed account, address indexed by);
    /// @dev No more founding departments can be seated.
    event FoundingClosed(address indexed by, uint32 memberCount);
    /**
     * @dev A proposal to admit or remove `departmentId` was opened. `quorum` is the majority it
     * needs if membership does not change before it is executed.
     */
    event ProposalOpened(
        bytes32 indexed proposalId,
        ProposalKind indexed kind,
        bytes32 indexed departmentId,
        address proposer,
        address validator,
        address serviceAccount,
        string name,
        uint32 quorum,
        uint64 deadline
    );
    /// @dev Department `voterDepartment` voted for `proposalId`; `yesVotes` counts every vote cast so far.
    event ProposalVoted(bytes32 indexed proposalId, bytes32 indexed voterDepartment, address indexed voter, uint32 yesVotes);
    /// @dev `proposalId` passed and took effect.
    event ProposalExecuted(bytes32 indexed proposalId, address indexed by);
    /// @dev Department `sponsor` vouches for `consumer`, described off-chain by `profileHash`.
    event ConsumerRegistered(address indexed consumer, bytes32 indexed sponsor, address indexed by, bytes32 profileHash);
    /// @dev The coordinator `by` paused the ledger for the reason whose text hashes to `reasonHash`.
    event LedgerPaused(address indexed by, bytes32 reasonHash);
    /// @dev The coordinator `by` let writes resume, for the reason whose text hashes to `reasonHash`.
    event LedgerResumed(address indexed by, bytes32 reasonHash);
    /// @dev `consumer` lost its consumer role.
    event ConsumerRemoved(address indexed consumer, bytes32 indexed sponsor, address indexed by);

    /**
     * @dev Seats a founding department before the consortium starts voting.
     *
     * Requirements:
     * - the caller has COORDINATOR_ROLE; the founding phase is open;
     * - `departmentId` is new and not zero; `validator` and `serviceAccount` are not zero;
     * - `serviceAccount` serves no department and is neither a consumer nor an auditor.
     *
     * Emits {DepartmentAdmitted} (with a zero proposal id) and {ServiceAccountAdded}.
     */
    function seatFoundingDepartment(
        bytes32 departmentId,
        string calldata name,
        address validator,
        address serviceAccount
    ) external;

    /**
     * @dev Ends the founding phase.
     *
     * Requirements:
     * - the caller has COORDINATOR_ROLE; the founding phase is open.
     *
     * Emits {FoundingClosed}.
     */
    function closeFounding() external;

    /**
     * @dev Opens a proposal to admit a new department.
     *
     * Requirements:
     * The proposal's id is derived from the caller and `key` ({proposalIdOf}), so that no one
     * can take an id another member means to use.
     *
     * Requirements:
     * - the caller is a member department's service account or the coordinator; not paused;
     * - the caller has no proposal under `key` yet; `departmentId` was never a member; accounts are not zero.
     *
     * Emits {ProposalOpened}.
     */
    function proposeAdmission(
        bytes32 key,
        bytes32 departmentId,
        string calldata name,
        address validator,
        address serviceAccount
    ) external returns (bytes32 proposalId);

    /**
     * @dev Opens a proposal to remove a member department.
     *
     * Requirements:
     * - the caller is a member department's service account or the coordinator; not paused;
     * - the caller has no proposal under `key` yet; `departmentId` is an active member.
     *
     * Emits {ProposalOpened}.
     */
    function proposeRemoval(bytes32 key, bytes32 departmentId) external returns (bytes32 proposalId);

    /// @dev The id of the proposal `proposer` opens under `key`: keccak256(abi.encode(proposer, key)).
    function proposalIdOf(address proposer, bytes32 key) external pure returns (bytes32);

    /**
     * @dev Casts the caller's department's vote for `proposalId`.
     *
     * Requirements:
     * - the caller is a member department's service account; not paused;
     * - the proposal is open and before its deadline; the department has not voted on it.
     *
     * Emits {ProposalVoted}.
     */
    function vote(bytes32 proposalId) external;

    /**
     * @dev Carries out a proposal that a majority of the current member departments voted for.
     * Votes of departments removed since they voted do not count (see {tally}). Removing a
     * department frees its service accounts.
     *
     * Requirements:
     * - the caller is a member department's service account or the coordinator; not paused;
     * - the proposal is open and before its deadline;
     * - more than half of the current member departments voted for it;
     * - for an admission: the department and its service account are still new and free;
     * - for a removal: the department is still a member and not the last one.
     *
     * Emits {ProposalExecuted}, then {DepartmentAdmitted} and {ServiceAccountAdded}, or
     * {ServiceAccountRemoved} for each of the department's service accounts and {DepartmentRemoved}.
     */
    function execute(bytes32 proposalId) external;

    /**
     * @dev Offers `account` a place among the caller's department's service accounts. The
     * account joins only when it accepts with {acceptServiceAccount}; the offer stands until then.
     *
     * Requirements:
     * - the caller is a service account of an active department; not paused;
     * - `account` is not zero, serves no department and is neither a consumer nor an auditor;
     * - the department has fewer than {MAX_SERVICE_ACCOUNTS} service accounts.
     *
     * Emits {ServiceAccountOffered}.
     */
    function offerServiceAccount(address account) external;

    /**
     * @dev Accepts the offer of department `departmentId`: the caller becomes one of its service
     * accounts, and the offer is spent.
     *
     * Requirements:
     * - not paused; `departmentId` offered the caller a place and is still an active member;
     * - the caller still serves no department and is neither a consumer nor an auditor;
     * - the department has fewer than {MAX_SERVICE_ACCOUNTS} service accounts.
     *
     * Emits {ServiceAccountAdded} and {RoleGranted}.
     */
    function acceptServiceAccount(bytes32 departmentId) external;

    /**
     * @dev Removes a service account from the caller's department.
     *
     * Requirements:
     * - the caller is a service account of the same department; not paused;
     * - the department keeps at least one service account.
     *
     * Emits {ServiceAccountRemoved}.
     */
    function removeServiceAccount(address account) external;

    /**
     * @dev Makes `consumer` a data consumer sponsored by the caller's department.
     *
     * Requirements:
     * - the caller is a service account of an active department; not paused;
     * - `consumer` is not zero, not a consumer yet, serves no department and is not an auditor.
     *
     * Emits {ConsumerRegistered}.
     */
    function registerConsumer(address consumer, bytes32 profileHash) external;

    /**
     * @dev Takes the consumer role away from `consumer`.
     *
     * Requirements:
     * - the caller serves the consumer's sponsor department, or is the coordinator; not paused.
     *
     * Emits {ConsumerRemoved}.
     */
    function removeConsumer(address consumer) external;

    /**
     * @dev Gives up `role`, as OpenZeppelin's {AccessControl-renounceRole} does, except the roles
     * that follow membership: a service account is taken off through {removeServiceAccount}, a
     * consumer through {removeConsumer}.
     *
     * Requirements:
     * - `callerConfirmation` is the caller;
     * - `role` is neither DEPARTMENT_ROLE nor CONSUMER_ROLE;
     * - the caller is not the last holder of COORDINATOR_ROLE ({revokeRole} refuses the same).
     *
     * Emits {RoleRevoked} if the caller held `role`.
     */
    function renounceRole(bytes32 role, address callerConfirmation) external;

    /**
     * @dev Stops every write on the ledger in an emergency; `reasonHash` is the keccak256 of the
     * reason's text, published with {AnchorRegistry-publishText}.
     *
     * Requirements:
     * - the caller has COORDINATOR_ROLE; not paused.
     *
     * Emits {Paused} and {LedgerPaused}.
     */
    function pause(bytes32 reasonHash) external;

    /**
     * @dev Lets writes resume; `reasonHash` as for {pause}.
     *
     * Requirements:
     * - the caller has COORDINATOR_ROLE; paused.
     *
     * Emits {Unpaused} and {LedgerResumed}.
     */
    function unpause(bytes32 reasonHash) external;

    /// @dev How many service accounts a department may have at most.
    function MAX_SERVICE_ACCOUNTS() external view returns (uint256);

    /// @dev Whether department `departmentId` offered `account` a place it has not accepted yet.
    function hasOffer(bytes32 departmentId, address account) external view returns (bool);

    /// @dev The active department `account` serves, or zero.
    function departmentOf(address account) external view returns (bytes32);

    /// @dev Whether `departmentId` is an active member.
    function isMember(bytes32 departmentId) external view returns (bool);

    /// @dev The department, active or not; reverts with {ConsortiumUnknownDepartment} if never seated.
    function department(bytes32 departmentId) external view returns (Department memory);

    /// @dev The service accounts of `departmentId`; none once it is removed.
    function serviceAccounts(bytes32 departmentId) external view returns (address[] memory);

    /// @dev The ids of all active member departments.
    function members() external view returns (bytes32[] memory);

    /// @dev The proposal; reverts with {ConsortiumUnknownProposal} if absent.
    function proposal(bytes32 proposalId) external view returns (Proposal memory);

    /**
     * @dev The votes {execute} would count now, those of departments that are still members,
     * and the `quorum` a majority of the current members needs; reverts with
     * {ConsortiumUnknownProposal} if absent.
     */
    function tally(bytes32 proposalId) external view returns (uint32 yesVotes, uint32 quorum);

    /// @dev The department that sponsors `consumer`, or zero if it is no consumer.
    function sponsorOf(address consumer) external view returns (bytes32);

    /// @dev Whether `account` holds COORDINATOR_ROLE.
    function isCoordinator(address account) external view returns (bool);

    /// @dev Whether `account` holds AUDITOR_ROLE.
    function isAuditor(address account) external view returns (bool);

    /// @dev Whether the ledger is paused.
    function paused() external view returns (bool);

    /// @dev Whether department `departmentId` voted for `proposalId`.
    function hasVoted(bytes32 proposalId, bytes32 departmentId) external view returns (bool);

    /// @dev Whether the founding phase is over ({closeFounding}).
    function foundingClosed() external view returns (bool);
}
