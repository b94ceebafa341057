// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ConsortiumBound} from "./ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IDataRegistry} from "./interfaces/IDataRegistry.sol";

/// @title Datasets, their ownership and rights, lineage, versions and freezes.
contract DataRegistry is IDataRegistry, ConsortiumBound {
    uint8 private constant _MAX_GRADE = 4;
    /// @dev Room for a few hundred field names with their classes; bounds what every node indexes.
    uint256 public constant MAX_TEXT = 16384;

    mapping(bytes32 datasetId => Dataset) private _datasets;
    mapping(bytes32 datasetId => Rights) private _rights;
    mapping(bytes32 datasetId => bytes32[]) private _parents;
    mapping(bytes32 datasetId => mapping(uint32 version => Version)) private _versions;
    mapping(bytes32 datasetId => mapping(bytes32 contentRoot => uint32 version)) private _versionOfRoot;
    mapping(bytes32 datasetId => mapping(uint32 version => bool)) private _purged;

    constructor(IConsortium consortium_) ConsortiumBound(consortium_) {}

    // ------------------------------------------------------------------ writes

    function registerDataset(
        bytes32 code,
        DatasetInput calldata input
    ) external whenLedgerNotPaused returns (bytes32 datasetId) {
        bytes32 owner = _callerDepartment();
        if (code == 0) revert RegistryInvalidArgument(0, 0);
        datasetId = _datasetIdOf(owner, code);
        if (_datasets[datasetId].registeredAt != 0) revert RegistryDatasetExists(datasetId);
        if (input.grade == 0 || input.grade > _MAX_GRADE) revert RegistryInvalidGrade(input.grade);
        for (uint256 i = 0; i < input.parents.length; i++) {
            if (_datasets[input.parents[i]].registeredAt == 0) revert RegistryUnknownParent(datasetId, input.parents[i]);
        }
        _datasets[datasetId] = Dataset({
            ownerDepartment: owner,
            metadataHash: _textHash(input.metadata),
            category: input.category,
            grade: input.grade,
            frozen: false,
            frozenByCoordinator: false,
            updateInterval: input.updateInterval,
            versionCount: 0,
            registeredAt: uint64(block.timestamp)
        });
        _parents[datasetId] = input.parents;
        _emitRegistered(datasetId, owner, code, input);
        _setRights(datasetId, input.rights);
    }

    function setRights(bytes32 datasetId, Rights calldata rights) external whenLedgerNotPaused {
        _requireOwner(datasetId);
        _setRights(datasetId, rights);
    }

    function updateMetadata(bytes32 datasetId, string calldata metadata) external whenLedgerNotPaused {
        Dataset storage ds = _requireOwner(datasetId);
        bytes32 metadataHash = _textHash(metadata);
        ds.metadataHash = metadataHash;
        emit MetadataUpdated(datasetId, msg.sender, metadataHash, metadata);
    }

    function addVersion(
        bytes32 datasetId,
        bytes32 contentRoot,
        string calldata schema,
        uint64 sizeBytes,
        uint64 recordCount
    ) external whenLedgerNotPaused returns (uint32 version_) {
        Dataset storage ds = _requireOwner(datasetId);
        if (contentRoot == 0) revert RegistryInvalidArgument(datasetId, contentRoot);
        if (_versionOfRoot[datasetId][contentRoot] != 0) revert RegistryVersionExists(datasetId, contentRoot);
        bytes32 schemaHash = _textHash(schema);
        version_ = ds.versionCount + 1;
        ds.versionCount = version_;
        _versions[datasetId][version_] = Version({
            contentRoot: contentRoot,
            schemaHash: schemaHash,
            sizeBytes: sizeBytes,
            recordCount: recordCount,
            anchoredAt: uint64(block.timestamp)
        });
        _versionOfRoot[datasetId][contentRoot] = version_;
        emit VersionAdded(datasetId, version_, contentRoot, schemaHash, sizeBytes, recordCount, msg.sender, schema);
    }

    function purgeVersion(
        bytes32 datasetId,
        uint32 version_,
        bytes32 reasonHash,
        bytes32 subjectHash
    ) external whenLedgerNotPaused {
        Dataset storage ds = _requireOwner(datasetId);
        if (version_ == 0 || version_ > ds.versionCount) revert RegistryUnknownVersion(datasetId, version_);
        if (_purged[datasetId][version_]) revert RegistryVersionPurged(datasetId, version_);
        _purged[datasetId][version_] = true;
        emit VersionPurged(datasetId, version_, reasonHash, subjectHash, msg.sender);
    }

    function freeze(bytes32 datasetId, bytes32 reasonHash) external whenLedgerNotPaused {
        (Dataset storage ds, bool byCoordinator) = _requireOwnerOrCoordinator(datasetId);
        // A frozen dataset is frozen again only to hand the freeze from its owner to a coordinator.
        if (ds.frozen && (ds.frozenByCoordinator || !byCoordinator)) revert RegistryDatasetFrozen(datasetId);
        ds.frozen = true;
        ds.frozenByCoordinator = byCoordinator;
        emit DatasetFrozen(datasetId, msg.sender, reasonHash, byCoordinator);
    }

    function unfreeze(bytes32 datasetId, bytes32 reasonHash) external whenLedgerNotPaused {
        (Dataset storage ds, bool byCoordinator) = _requireOwnerOrCoordinator(datasetId);
        if (!ds.frozen) revert RegistryDatasetNotFrozen(datasetId);
        if (ds.frozenByCoordinator && !byCoordinator) revert RegistryFrozenByCoordinator(msg.sender, datasetId);
        ds.frozen = false;
        ds.frozenByCoordinator = false;
        emit DatasetUnfrozen(datasetId, msg.sender, reasonHash);
    }

    // ------------------------------------------------------------------ views

    function dataset(bytes32 datasetId) external view returns (Dataset memory) {
        return _existing(datasetId);
    }

    function rightsOf(bytes32 datasetId) external view returns (Rights memory) {
        _existing(datasetId);
        return _rights[datasetId];
    }

    function parentsOf(bytes32 datasetId) external view returns (bytes32[] memory) {
        _existing(datasetId);
        return _parents[datasetId];
    }

    function version(bytes32 datasetId, uint32 version_) external view returns (Version memory) {
        Dataset storage ds = _existing(datasetId);
        if (version_ == 0 || version_ > ds.versionCount) revert RegistryUnknownVersion(datasetId, version_);
        return _versions[datasetId][version_];
    }

    function versionOfRoot(bytes32 datasetId, bytes32 contentRoot) external view returns (uint32) {
        return _versionOfRoot[datasetId][contentRoot];
    }

    function isPurged(bytes32 datasetId, uint32 version_) external view returns (bool) {
        return _purged[datasetId][version_];
    }

    function useStatus(bytes32 datasetId) external view returns (bytes32 ownerDepartment, uint8 grade, bool frozen) {
        Dataset storage ds = _existing(datasetId);
        return (ds.ownerDepartment, ds.grade, ds.frozen);
    }

    function freezeOf(bytes32 datasetId) external view returns (bool frozen, bool byCoordinator) {
        Dataset storage ds = _existing(datasetId);
        return (ds.frozen, ds.frozenByCoordinator);
    }

    function datasetIdOf(bytes32 department, bytes32 code) external pure returns (bytes32) {
        return _datasetIdOf(department, code);
    }

    // ------------------------------------------------------------------ internals

    function _existing(bytes32 datasetId) private view returns (Dataset storage ds) {
        ds = _datasets[datasetId];
        if (ds.registeredAt == 0) revert RegistryUnknownDataset(datasetId);
    }

    function _requireOwner(bytes32 datasetId) private view returns (Dataset storage ds) {
        ds = _existing(datasetId);
        if (_consortium.departmentOf(msg.sender) != ds.ownerDepartment) revert RegistryNotOwner(msg.sender, datasetId);
    }

    /// @dev `byCoordinator` when the caller holds COORDINATOR_ROLE, whether or not it also serves the owner.
    function _requireOwnerOrCoordinator(bytes32 datasetId) private view returns (Dataset storage ds, bool byCoordinator) {
        ds = _existing(datasetId);
        byCoordinator = _callerIsCoordinator();
        if (!byCoordinator && _consortium.departmentOf(msg.sender) != ds.ownerDepartment) {
            revert RegistryNotOwnerOrCoordinator(msg.sender, datasetId);
        }
    }

    function _datasetIdOf(bytes32 department, bytes32 code) private pure returns (bytes32) {
        return keccak256(abi.encode(department, code));
    }

    function _emitRegistered(bytes32 datasetId, bytes32 owner, bytes32 code, DatasetInput calldata input) private {
        emit DatasetRegistered(
            datasetId,
            owner,
            msg.sender,
            code,
            _datasets[datasetId].metadataHash,
            input.category,
            input.grade,
            input.updateInterval,
            input.parents,
            input.metadata
        );
    }

    /// @dev The hash of a catalog text, which the text itself travels beside in an event.
    function _textHash(string calldata text) private pure returns (bytes32) {
        uint256 length = bytes(text).length;
        if (length == 0 || length > MAX_TEXT) revert RegistryInvalidText(length, MAX_TEXT);
        return keccak256(bytes(text));
    }

    function _setRights(bytes32 datasetId, Rights calldata rights) private {
        _requireMember(datasetId, rights.ownershipHolder);
        for (uint256 i = 0; i < rights.usageRightHolders.length; i++) {
            _requireMember(datasetId, rights.usageRightHolders[i]);
        }
        _rights[datasetId] = rights;
        emit RightsSet(datasetId, rights.ownershipHolder, msg.sender, rights.usageRightHolders, rights.revenueBeneficiary);
    }

    function _requireMember(bytes32 datasetId, bytes32 departmentId) private view {
        if (!_consortium.isMember(departmentId)) revert RegistryInvalidArgument(datasetId, departmentId);
    }
}
