// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev Datasets and their versions: who owns each (数据确权), how it is classified and graded
 * (分类分级), how its rights are split, what it was derived from, and the anchored content of
 * every version. Raw data never comes here: only hashes, identifiers and terms.
 */
interface IDataRegistry {
    /// @dev The three rights in a dataset: who holds it, who may process and use it, who is paid.
    struct Rights {
        bytes32 ownershipHolder;
        bytes32[] usageRightHolders;
        address revenueBeneficiary;
    }

    struct DatasetInput {
        bytes32 metadataHash;
        bytes32 category;
        uint8 grade;
        uint32 updateInterval;
        Rights rights;
        bytes32[] parents;
    }

    struct Dataset {
        bytes32 ownerDepartment;
        bytes32 metadataHash;
        bytes32 category;
        uint8 grade;
        bool frozen;
        uint32 updateInterval;
        uint32 versionCount;
        uint64 registeredAt;
    }

    struct Version {
        bytes32 contentRoot;
        bytes32 schemaHash;
        uint64 sizeBytes;
        uint64 recordCount;
        uint64 anchoredAt;
    }

    /// @dev A dataset with `datasetId` already exists.
    error RegistryDatasetExists(bytes32 datasetId);
    /// @dev No dataset with `datasetId`.
    error RegistryUnknownDataset(bytes32 datasetId);
    /// @dev Sensitivity grades run from 1 (open) to 4 (most sensitive).
    error RegistryInvalidGrade(uint8 grade);
    /// @dev `datasetId` is zero, or a rights holder is not an active department.
    error RegistryInvalidArgument(bytes32 datasetId, bytes32 value);
    /// @dev Lineage parent `parentId` of `datasetId` is not registered.
    error RegistryUnknownParent(bytes32 datasetId, bytes32 parentId);
    /// @dev `account` does not serve the department that owns `datasetId`.
    error RegistryNotOwner(address account, bytes32 datasetId);
    /// @dev `account` neither serves the owner of `datasetId` nor is the coordinator.
    error RegistryNotOwnerOrCoordinator(address account, bytes32 datasetId);
    /// @dev A version of `datasetId` already anchors `contentRoot`.
    error RegistryVersionExists(bytes32 datasetId, bytes32 contentRoot);
    /// @dev `datasetId` has no version `version`.
    error RegistryUnknownVersion(bytes32 datasetId, uint32 version);
    /// @dev `datasetId` is frozen: no new grants and no uses until it is unfrozen.
    error RegistryDatasetFrozen(bytes32 datasetId);
    /// @dev `datasetId` is not frozen.
    error RegistryDatasetNotFrozen(bytes32 datasetId);

    /// @dev Department `ownerDepartment` registered `datasetId`, derived from `parents`.
    event DatasetRegistered(
        bytes32 indexed datasetId,
        bytes32 indexed ownerDepartment,
        address indexed registrant,
        bytes32 metadataHash,
        bytes32 category,
        uint8 grade,
        uint32 updateInterval,
        bytes32[] parents
    );
    /// @dev The rights split of `datasetId` is now the one given.
    event RightsSet(
        bytes32 indexed datasetId,
        bytes32 indexed ownershipHolder,
        address indexed by,
        bytes32[] usageRightHolders,
        address revenueBeneficiary
    );
    /// @dev The catalog metadata of `datasetId` changed to `metadataHash`.
    event MetadataUpdated(bytes32 indexed datasetId, address indexed by, bytes32 metadataHash);
    /// @dev Version `version` of `datasetId` anchors `contentRoot`.
    event VersionAdded(
        bytes32 indexed datasetId,
        uint32 indexed version,
        bytes32 indexed contentRoot,
        bytes32 schemaHash,
        uint64 sizeBytes,
        uint64 recordCount,
        address by
    );
    /// @dev `datasetId` was frozen by `by` for the reason described by `reasonHash`.
    event DatasetFrozen(bytes32 indexed datasetId, address indexed by, bytes32 reasonHash);
    /// @dev `datasetId` was unfrozen by `by`.
    event DatasetUnfrozen(bytes32 indexed datasetId, address indexed by, bytes32 reasonHash);

    /**
     * @dev Registers a dataset owned by the caller's department.
     *
     * Requirements:
     * - the caller serves an active department; the ledger is not paused;
     * - `datasetId` is new and not zero; `input.grade` is 1 to 4;
     * - the ownership holder and every usage-right holder are active departments;
     * - every parent is a registered dataset.
     *
     * Emits {DatasetRegistered} and {RightsSet}.
     */
    function registerDataset(bytes32 datasetId, DatasetInput calldata input) external;

    /**
     * @dev Replaces the rights split of a dataset.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused;
     * - every holder named is an active department.
     *
     * Emits {RightsSet}.
     */
    function setRights(bytes32 datasetId, Rights calldata rights) external;

    /**
     * @dev Points a dataset at new catalog metadata.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused.
     *
     * Emits {MetadataUpdated}.
     */
    function updateMetadata(bytes32 datasetId, bytes32 metadataHash) external;

    /**
     * @dev Anchors a new version of a dataset; its number is the previous count plus one.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused;
     * - no version of this dataset anchors `contentRoot` already (so a resent write is refused).
     *
     * Emits {VersionAdded}.
     */
    function addVersion(
        bytes32 datasetId,
        bytes32 contentRoot,
        bytes32 schemaHash,
        uint64 sizeBytes,
        uint64 recordCount
    ) external returns (uint32 version);

    /**
     * @dev Freezes a dataset: grants cannot be approved and uses are refused while frozen.
     *
     * Requirements:
     * - the caller serves the owner department or is the coordinator; the ledger is not paused;
     * - the dataset is not frozen.
     *
     * Emits {DatasetFrozen}.
     */
    function freeze(bytes32 datasetId, bytes32 reasonHash) external;

    /**
     * @dev Lifts a freeze.
     *
     * Requirements:
     * - the caller serves the owner department or is the coordinator; the ledger is not paused;
     * - the dataset is frozen.
     *
     * Emits {DatasetUnfrozen}.
     */
    function unfreeze(bytes32 datasetId, bytes32 reasonHash) external;

    /// @dev The dataset; reverts with {RegistryUnknownDataset} if absent.
    function dataset(bytes32 datasetId) external view returns (Dataset memory);

    /// @dev The dataset's rights split.
    function rightsOf(bytes32 datasetId) external view returns (Rights memory);

    /// @dev The datasets `datasetId` was derived from.
    function parentsOf(bytes32 datasetId) external view returns (bytes32[] memory);

    /// @dev Version `version` (from 1) of the dataset; reverts with {RegistryUnknownVersion}.
    function version(bytes32 datasetId, uint32 version) external view returns (Version memory);

    /// @dev The version number anchoring `contentRoot`, or 0.
    function versionOfRoot(bytes32 datasetId, bytes32 contentRoot) external view returns (uint32);

    /// @dev What a grant or a use needs to know, in one call: owner, grade and freeze.
    function useStatus(bytes32 datasetId) external view returns (bytes32 ownerDepartment, uint8 grade, bool frozen);
}
