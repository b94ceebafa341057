// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title The member departments of the provledger consortium and everyone's role.
contract Consortium is IConsortium, AccessControl, Pausable {
    bytes32 public constant COORDINATOR_ROLE = keccak256("COORDINATOR_ROLE");
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");
    bytes32 public constant DEPARTMENT_ROLE = keccak256("DEPARTMENT_ROLE");
    bytes32 public constant CONSUMER_ROLE = keccak256("CONSUMER_ROLE");

    /// @dev Bounds every loop over a department's service accounts.
    uint256 public constant MAX_SERVICE_ACCOUNTS = 8;

    uint64 public immutable votingPeriod;

    bool private _foundingClosed;
    uint32 private _coordinatorCount;
    bytes32[] private _memberIds;
    mapping(bytes32 departmentId => Department) private _departments;
    mapping(bytes32 departmentId => address[]) private _serviceAccounts;
    mapping(address account => bytes32 departmentId) private _accountDepartment;
    mapping(address consumer => bytes32 departmentId) private _consumerSponsor;
    mapping(bytes32 departmentId => mapping(address account => bool)) private _offers;
    mapping(bytes32 proposalId => Proposal) private _proposals;
    mapping(bytes32 proposalId => mapping(bytes32 departmentId => bool)) private _voted;
    mapping(bytes32 proposalId => bytes32[] departmentIds) private _voters;

    /**
     * @dev `coordinator` seats the founding departments and may appoint auditors and further
     * coordinators. DEPARTMENT_ROLE and CONSUMER_ROLE are administered by nobody: they change
     * only through this contract's functions, so that membership always follows the votes.
     */
    constructor(address coordinator, uint64 votingPeriod_) {
        if (coordinator == address(0)) revert ConsortiumInvalidArgument(coordinator, 0);
        votingPeriod = votingPeriod_;
        _setRoleAdmin(COORDINATOR_ROLE, COORDINATOR_ROLE);
        _setRoleAdmin(AUDITOR_ROLE, COORDINATOR_ROLE);
        _grantRole(COORDINATOR_ROLE, coordinator);
    }

    modifier onlyMemberOrCoordinator() {
        if (_activeDepartmentOf(msg.sender) == 0 && !hasRole(COORDINATOR_ROLE, msg.sender)) {
            revert ConsortiumNotMemberOrCoordinator(msg.sender);
        }
        _;
    }

    // ------------------------------------------------------------------ founding

    function seatFoundingDepartment(
        bytes32 departmentId,
        string calldata name,
        address validator,
        address serviceAccount
    ) external onlyRole(COORDINATOR_ROLE) {
        if (_foundingClosed) revert ConsortiumFoundingClosed();
        _checkNewDepartment(departmentId, name, validator, serviceAccount);
        _admit(departmentId, name, validator, serviceAccount, 0);
    }

    function closeFounding() external onlyRole(COORDINATOR_ROLE) {
        if (_foundingClosed) revert ConsortiumFoundingClosed();
        _foundingClosed = true;
        emit FoundingClosed(msg.sender, uint32(_memberIds.length));
    }

    // ------------------------------------------------------------------ proposals

    function proposeAdmission(
        bytes32 key,
        bytes32 departmentId,
        string calldata name,
        address validator,
        address serviceAccount
    ) external whenNotPaused onlyMemberOrCoordinator returns (bytes32 proposalId) {
        _checkNewDepartment(departmentId, name, validator, serviceAccount);
        proposalId = proposalIdOf(msg.sender, key);
        _open(proposalId, ProposalKind.Admit, departmentId, name, validator, serviceAccount);
    }

    function proposeRemoval(bytes32 key, bytes32 departmentId)
        external
        whenNotPaused
        onlyMemberOrCoordinator
        returns (bytes32 proposalId)
    {
        Department storage dept = _departments[departmentId];
        if (!dept.active) revert ConsortiumUnknownDepartment(departmentId);
        if (_memberIds.length == 1) revert ConsortiumLastDepartment(departmentId);
        proposalId = proposalIdOf(msg.sender, key);
        _open(proposalId, ProposalKind.Remove, departmentId, dept.name, dept.validator, address(0));
    }

    /// @dev Keyed by the proposing account, not its department: the coordinator, who has none, proposes too.
    function proposalIdOf(address proposer, bytes32 key) public pure returns (bytes32) {
        return keccak256(abi.encode(proposer, key));
    }

    function vote(bytes32 proposalId) external whenNotPaused {
        bytes32 voter = _requireDepartment(msg.sender);
        Proposal storage p = _openProposal(proposalId);
        if (_voted[proposalId][voter]) revert ConsortiumAlreadyVoted(proposalId, voter);
        _voted[proposalId][voter] = true;
        _voters[proposalId].push(voter);
        p.yesVotes += 1;
        emit ProposalVoted(proposalId, voter, msg.sender, p.yesVotes);
    }

    function execute(bytes32 proposalId) external whenNotPaused onlyMemberOrCoordinator {
        Proposal storage p = _openProposal(proposalId);
        (uint32 yesVotes, uint32 quorum) = _tally(proposalId);
        if (yesVotes < quorum) revert ConsortiumNoMajority(proposalId, yesVotes, quorum);
        p.status = ProposalStatus.Executed;
        emit ProposalExecuted(proposalId, msg.sender);
        if (p.kind == ProposalKind.Admit) {
            // The department may have been seated another way since the vote opened.
            _checkNewDepartment(p.departmentId, p.name, p.validator, p.serviceAccount);
            _admit(p.departmentId, p.name, p.validator, p.serviceAccount, proposalId);
        } else {
            _remove(p.departmentId, proposalId);
        }
    }

    // ------------------------------------------------------------------ accounts

    function offerServiceAccount(address account) external whenNotPaused {
        bytes32 departmentId = _requireDepartment(msg.sender);
        _checkFreeAccount(account);
        _checkRoomFor(departmentId);
        _offers[departmentId][account] = true;
        emit ServiceAccountOffered(departmentId, account, msg.sender);
    }

    function acceptServiceAccount(bytes32 departmentId) external whenNotPaused {
        if (!_offers[departmentId][msg.sender]) revert ConsortiumNoOffer(msg.sender, departmentId);
        if (!_departments[departmentId].active) revert ConsortiumUnknownDepartment(departmentId);
        _checkFreeAccount(msg.sender);
        _checkRoomFor(departmentId);
        delete _offers[departmentId][msg.sender];
        _addServiceAccount(departmentId, msg.sender);
    }

    function removeServiceAccount(address account) external whenNotPaused {
        bytes32 departmentId = _requireDepartment(msg.sender);
        if (_accountDepartment[account] != departmentId) revert ConsortiumNotADepartment(account);
        address[] storage accounts = _serviceAccounts[departmentId];
        if (accounts.length == 1) revert ConsortiumLastServiceAccount(departmentId);
        for (uint256 i = 0; i < accounts.length; i++) {
            if (accounts[i] == account) {
                accounts[i] = accounts[accounts.length - 1];
                accounts.pop();
                break;
            }
        }
        delete _accountDepartment[account];
        _revokeRole(DEPARTMENT_ROLE, account);
        emit ServiceAccountRemoved(departmentId, account, msg.sender);
    }

    function registerConsumer(address consumer, bytes32 profileHash) external whenNotPaused {
        bytes32 sponsor = _requireDepartment(msg.sender);
        _checkFreeAccount(consumer);
        _consumerSponsor[consumer] = sponsor;
        _grantRole(CONSUMER_ROLE, consumer);
        emit ConsumerRegistered(consumer, sponsor, msg.sender, profileHash);
    }

    function removeConsumer(address consumer) external whenNotPaused {
        bytes32 sponsor = _consumerSponsor[consumer];
        if (sponsor == 0) revert ConsortiumUnknownConsumer(consumer);
        if (_activeDepartmentOf(msg.sender) != sponsor && !hasRole(COORDINATOR_ROLE, msg.sender)) {
            revert ConsortiumNotSponsor(msg.sender, consumer);
        }
        delete _consumerSponsor[consumer];
        _revokeRole(CONSUMER_ROLE, consumer);
        emit ConsumerRemoved(consumer, sponsor, msg.sender);
    }

    // ------------------------------------------------------------------ roles

    /// @dev DEPARTMENT_ROLE and CONSUMER_ROLE are not the holder's to give up: see {IConsortium-renounceRole}.
    function renounceRole(bytes32 role, address callerConfirmation) public override(IConsortium, AccessControl) {
        if (role == DEPARTMENT_ROLE || role == CONSUMER_ROLE) revert ConsortiumRoleFollowsMembership(role);
        super.renounceRole(role, callerConfirmation);
    }

    /// @dev Counts the coordinators, so that {_revokeRole} can keep the last one.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == COORDINATOR_ROLE) _coordinatorCount += 1;
    }

    /// @dev Every way out of COORDINATOR_ROLE, revoking or renouncing, comes through here.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        if (role == COORDINATOR_ROLE && _coordinatorCount == 1 && hasRole(role, account)) {
            revert ConsortiumLastCoordinator();
        }
        revoked = super._revokeRole(role, account);
        if (revoked && role == COORDINATOR_ROLE) _coordinatorCount -= 1;
    }

    // ------------------------------------------------------------------ emergency

    function pause(bytes32 reasonHash) external onlyRole(COORDINATOR_ROLE) {
        _pause();
        emit LedgerPaused(msg.sender, reasonHash);
    }

    function unpause(bytes32 reasonHash) external onlyRole(COORDINATOR_ROLE) {
        _unpause();
        emit LedgerResumed(msg.sender, reasonHash);
    }

    // ------------------------------------------------------------------ views

    function departmentOf(address account) external view returns (bytes32) {
        return _activeDepartmentOf(account);
    }

    function isMember(bytes32 departmentId) external view returns (bool) {
        return _departments[departmentId].active;
    }

    function department(bytes32 departmentId) external view returns (Department memory) {
        Department memory dept = _departments[departmentId];
        if (dept.admittedAt == 0) revert ConsortiumUnknownDepartment(departmentId);
        return dept;
    }

    function serviceAccounts(bytes32 departmentId) external view returns (address[] memory) {
        return _serviceAccounts[departmentId];
    }

    function members() external view returns (bytes32[] memory) {
        return _memberIds;
    }

    function proposal(bytes32 proposalId) external view returns (Proposal memory) {
        Proposal memory p = _proposals[proposalId];
        if (p.status == ProposalStatus.None) revert ConsortiumUnknownProposal(proposalId);
        return p;
    }

    function tally(bytes32 proposalId) external view returns (uint32 yesVotes, uint32 quorum) {
        if (_proposals[proposalId].status == ProposalStatus.None) revert ConsortiumUnknownProposal(proposalId);
        return _tally(proposalId);
    }

    function hasVoted(bytes32 proposalId, bytes32 departmentId) external view returns (bool) {
        return _voted[proposalId][departmentId];
    }

    function foundingClosed() external view returns (bool) {
        return _foundingClosed;
    }

    function hasOffer(bytes32 departmentId, address account) external view returns (bool) {
        return _offers[departmentId][account];
    }

    function sponsorOf(address consumer) external view returns (bytes32) {
        return _consumerSponsor[consumer];
    }

    function isCoordinator(address account) external view returns (bool) {
        return hasRole(COORDINATOR_ROLE, account);
    }

    function isAuditor(address account) external view returns (bool) {
        return hasRole(AUDITOR_ROLE, account);
    }

    function paused() public view override(IConsortium, Pausable) returns (bool) {
        return super.paused();
    }

    // ------------------------------------------------------------------ internals

    function _activeDepartmentOf(address account) private view returns (bytes32) {
        bytes32 departmentId = _accountDepartment[account];
        return _departments[departmentId].active ? departmentId : bytes32(0);
    }

    function _requireDepartment(address account) private view returns (bytes32 departmentId) {
        departmentId = _activeDepartmentOf(account);
        if (departmentId == 0) revert ConsortiumNotADepartment(account);
    }

    function _checkNewDepartment(
        bytes32 departmentId,
        string memory name,
        address validator,
        address serviceAccount
    ) private view {
        if (departmentId == 0 || bytes(name).length == 0) revert ConsortiumInvalidArgument(address(0), departmentId);
        if (validator == address(0)) revert ConsortiumInvalidArgument(validator, departmentId);
        if (_departments[departmentId].admittedAt != 0) revert ConsortiumDepartmentExists(departmentId);
        _checkFreeAccount(serviceAccount);
    }

    /// @dev An account holds one role at a time: a service account, a consumer or an auditor.
    function _checkFreeAccount(address account) private view {
        if (account == address(0)) revert ConsortiumInvalidArgument(account, 0);
        bytes32 serving = _accountDepartment[account];
        if (serving != 0 || _consumerSponsor[account] != 0 || hasRole(AUDITOR_ROLE, account)) {
            revert ConsortiumAccountInUse(account, serving);
        }
    }

    function _checkRoomFor(bytes32 departmentId) private view {
        if (_serviceAccounts[departmentId].length >= MAX_SERVICE_ACCOUNTS) {
            revert ConsortiumTooManyServiceAccounts(departmentId);
        }
    }

    function _open(
        bytes32 proposalId,
        ProposalKind kind,
        bytes32 departmentId,
        string memory name,
        address validator,
        address serviceAccount
    ) private {
        if (proposalId == 0) revert ConsortiumInvalidArgument(address(0), proposalId);
        if (_proposals[proposalId].status != ProposalStatus.None) revert ConsortiumProposalExists(proposalId);
        uint32 quorum = uint32(_memberIds.length / 2 + 1);
        uint64 deadline = uint64(block.timestamp) + votingPeriod;
        _proposals[proposalId] = Proposal({
            kind: kind,
            status: ProposalStatus.Open,
            yesVotes: 0,
            quorum: quorum,
            deadline: deadline,
            departmentId: departmentId,
            validator: validator,
            serviceAccount: serviceAccount,
            proposer: msg.sender,
            name: name
        });
        emit ProposalOpened(proposalId, kind, departmentId, msg.sender, validator, serviceAccount, name, quorum, deadline);
    }

    function _openProposal(bytes32 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.status == ProposalStatus.None) revert ConsortiumUnknownProposal(proposalId);
        if (p.status != ProposalStatus.Open) revert ConsortiumProposalClosed(proposalId, p.status);
        if (block.timestamp > p.deadline) revert ConsortiumProposalExpired(proposalId, p.deadline);
    }

    /// @dev A majority of the members now, counting only the votes of departments still members.
    function _tally(bytes32 proposalId) private view returns (uint32 yesVotes, uint32 quorum) {
        bytes32[] storage voters = _voters[proposalId];
        for (uint256 i = 0; i < voters.length; i++) {
            if (_departments[voters[i]].active) yesVotes++;
        }
        quorum = uint32(_memberIds.length / 2 + 1);
    }

    function _admit(
        bytes32 departmentId,
        string memory name,
        address validator,
        address serviceAccount,
        bytes32 proposalId
    ) private {
        _departments[departmentId] = Department({
            name: name,
            validator: validator,
            active: true,
            admittedAt: uint64(block.timestamp)
        });
        _memberIds.push(departmentId);
        emit DepartmentAdmitted(departmentId, validator, proposalId, name, serviceAccount);
        _addServiceAccount(departmentId, serviceAccount);
    }

    function _remove(bytes32 departmentId, bytes32 proposalId) private {
        Department storage dept = _departments[departmentId];
        if (!dept.active) revert ConsortiumUnknownDepartment(departmentId);
        if (_memberIds.length == 1) revert ConsortiumLastDepartment(departmentId);
        dept.active = false;
        for (uint256 i = 0; i < _memberIds.length; i++) {
            if (_memberIds[i] == departmentId) {
                _memberIds[i] = _memberIds[_memberIds.length - 1];
                _memberIds.pop();
                break;
            }
        }
        // Freed rather than left assigned, so that {serviceAccounts} agrees with the events and
        // the accounts may serve elsewhere.
        address[] storage accounts = _serviceAccounts[departmentId];
        for (uint256 i = 0; i < accounts.length; i++) {
            address account = accounts[i];
            delete _accountDepartment[account];
            _revokeRole(DEPARTMENT_ROLE, account);
            emit ServiceAccountRemoved(departmentId, account, msg.sender);
        }
        delete _serviceAccounts[departmentId];
        emit DepartmentRemoved(departmentId, dept.validator, proposalId);
    }

    function _addServiceAccount(bytes32 departmentId, address account) private {
        _accountDepartment[account] = departmentId;
        _serviceAccounts[departmentId].push(account);
        _grantRole(DEPARTMENT_ROLE, account);
        emit ServiceAccountAdded(departmentId, account, msg.sender);
    }
}
