// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev Datasets and their versions: who owns each (数据确权), how it is classified and graded
 * (分类分级), how its rights are split, what it was derived from, and the anchored content of
 * every version. Raw data never comes here: only hashes, identifiers and terms.
 *
 * A dataset's id is derived from its owner, never chosen freely:
 * `datasetId = keccak256(abi.encode(ownerDepartment, code))` (see {datasetIdOf}), where `code` is
 * the department's own name for it. Another department registering the same code gets another
 * id, so no department can occupy an id that another will derive.
 *
 * A freeze remembers who imposed it: the owner department may lift its own freeze, but only a
 * coordinator lifts a freeze a coordinator imposed (or took over by freezing again).
 *
 * The public catalog travels in events, so that every member's node indexes every department's
 * datasets from the chain alone: a dataset's metadata (canonical JSON naming it, its fields and
 * their classes, never a value) in {DatasetRegistered} and {MetadataUpdated}, each version's schema
 * (field names in order, format, size, rows) in {VersionAdded}. The contract hashes the texts
 * itself (`keccak256(bytes(text))`) and keeps only the hashes, so a text and its hash never disagree.
 */
interface IDataRegistry {
    /// @dev The three rights in a dataset: who holds it, who may process and use it, who is paid.
    struct Rights {
        bytes32 ownershipHolder;
        bytes32[] usageRightHolders;
        address revenueBeneficiary;
    }

    struct DatasetInput {
        string metadata;
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
        bool frozenByCoordinator;
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

    /// @dev The caller's department registered a dataset under the same code, hence with `datasetId`, already.
    error RegistryDatasetExists(bytes32 datasetId);
    /// @dev No dataset with `datasetId`.
    error RegistryUnknownDataset(bytes32 datasetId);
    /// @dev Sensitivity grades run from 1 (open) to 4 (most sensitive).
    error RegistryInvalidGrade(uint8 grade);
    /// @dev The code is zero (both arguments zero), the content root is zero, or a rights holder
    /// `value` is not an active department.
    error RegistryInvalidArgument(bytes32 datasetId, bytes32 value);
    /// @dev Lineage parent `parentId` of `datasetId` is not registered.
    error RegistryUnknownParent(bytes32 datasetId, bytes32 parentId);
    /// @dev `account` does not serve the department that owns `datasetId`.
    error RegistryNotOwner(address account, bytes32 datasetId);
    /// @dev `account` neither serves the owner of `datasetId` nor is the coordinator.
    error RegistryNotOwnerOrCoordinator(address account, bytes32 datasetId);
    /// @dev A version of `datasetId` already anchors `contentRoot`.
    error RegistryVersionExists(bytes32 datasetId, bytes32 contentRoot);
    /// @dev A catalog text (metadata or schema) is empty or longer than `max` bytes (`length`).
    error RegistryInvalidText(uint256 length, uint256 max);
    /// @dev `datasetId` has no version `version`.
    error RegistryUnknownVersion(bytes32 datasetId, uint32 version);
    /// @dev `datasetId` is frozen: no new grants and no uses until it is unfrozen.
    error RegistryDatasetFrozen(bytes32 datasetId);
    /// @dev `datasetId` is not frozen.
    error RegistryDatasetNotFrozen(bytes32 datasetId);
    /// @dev A coordinator froze `datasetId`: `account`, not a coordinator, cannot lift it.
    error RegistryFrozenByCoordinator(address account, bytes32 datasetId);
    /// @dev Version `version` of `datasetId` was purged already: a purge is recorded once.
    error RegistryVersionPurged(bytes32 datasetId, uint32 version);

    /// @dev Department `ownerDepartment` registered `datasetId` under its `code`, derived from `parents`,
    /// with the public catalog text `metadata` (`metadataHash` is its keccak256).
    event DatasetRegistered(
        bytes32 indexed datasetId,
        bytes32 indexed ownerDepartment,
        address indexed registrant,
        bytes32 code,
        bytes32 metadataHash,
        bytes32 category,
        uint8 grade,
        uint32 updateInterval,
        bytes32[] parents,
        string metadata
    );
    /// @dev The rights split of `datasetId` is now the one given.
    event RightsSet(
        bytes32 indexed datasetId,
        bytes32 indexed ownershipHolder,
        address indexed by,
        bytes32[] usageRightHolders,
        address revenueBeneficiary
    );
    /// @dev The catalog metadata of `datasetId` changed to the text `metadata`, whose keccak256 is `metadataHash`.
    event MetadataUpdated(bytes32 indexed datasetId, address indexed by, bytes32 metadataHash, string metadata);
    /// @dev Version `version` of `datasetId` anchors `contentRoot`; `schema` is its schema text, whose
    /// keccak256 is `schemaHash`.
    event VersionAdded(
        bytes32 indexed datasetId,
        uint32 indexed version,
        bytes32 indexed contentRoot,
        bytes32 schemaHash,
        uint64 sizeBytes,
        uint64 recordCount,
        address by,
        string schema
    );
    /// @dev `datasetId` was frozen by `by` for the reason described by `reasonHash`;
    /// `byCoordinator` when `by` froze it as a coordinator, so that only a coordinator can lift it.
    event DatasetFrozen(bytes32 indexed datasetId, address indexed by, bytes32 reasonHash, bool byCoordinator);
    /// @dev `datasetId` was unfrozen by `by`.
    event DatasetUnfrozen(bytes32 indexed datasetId, address indexed by, bytes32 reasonHash);
    /// @dev The owner's node removed version `version`'s plaintext for the reason whose text hashes to
    /// `reasonHash`; `subjectHash` is zero for a whole-version purge, else the salted hash of the person
    /// whose records were removed (the node keeps the salt). The version's root and evidence stay.
    event VersionPurged(
        bytes32 indexed datasetId,
        uint32 indexed version,
        bytes32 reasonHash,
        bytes32 subjectHash,
        address purgedBy
    );

    /**
     * @dev Registers a dataset owned by the caller's department, under the id
     * `keccak256(abi.encode(callerDepartment, code))`, which it returns.
     *
     * Requirements:
     * - the caller serves an active department; the ledger is not paused;
     * - `code` is not zero and the department has not registered it before; `input.grade` is 1 to 4;
     * - `input.metadata` is 1 to {MAX_TEXT} bytes (its keccak256 becomes the metadata hash);
     * - the ownership holder and every usage-right holder are active departments;
     * - every parent is a registered dataset.
     *
     * Emits {DatasetRegistered} and {RightsSet}.
     */
    function registerDataset(bytes32 code, DatasetInput calldata input) external returns (bytes32 datasetId);

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
     * @dev Replaces a dataset's catalog metadata with the text `metadata`; its keccak256 becomes the
     * metadata hash.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused;
     * - `metadata` is 1 to {MAX_TEXT} bytes.
     *
     * Emits {MetadataUpdated}.
     */
    function updateMetadata(bytes32 datasetId, string calldata metadata) external;

    /**
     * @dev Anchors a new version of a dataset; its number is the previous count plus one. The
     * version's schema hash is the keccak256 of `schema`, its schema text.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused;
     * - no version of this dataset anchors `contentRoot` already (so a resent write is refused);
     * - `schema` is 1 to {MAX_TEXT} bytes.
     *
     * Emits {VersionAdded}.
     */
    function addVersion(
        bytes32 datasetId,
        bytes32 contentRoot,
        string calldata schema,
        uint64 sizeBytes,
        uint64 recordCount
    ) external returns (uint32 version);

    /**
     * @dev Freezes a dataset: grants cannot be approved and uses are refused while frozen. A
     * caller holding COORDINATOR_ROLE freezes as a coordinator, even if it also serves the owner.
     * A coordinator may freeze again a dataset the owner froze: the freeze becomes the
     * coordinator's.
     *
     * Requirements:
     * - the caller serves the owner department or is a coordinator; the ledger is not paused;
     * - the dataset is not frozen, unless the owner froze it and the caller is a coordinator.
     *
     * Emits {DatasetFrozen}.
     */
    function freeze(bytes32 datasetId, bytes32 reasonHash) external;

    /**
     * @dev Lifts a freeze.
     *
     * Requirements:
     * - the caller serves the owner department or is a coordinator; the ledger is not paused;
     * - the dataset is frozen; if a coordinator froze it, the caller is a coordinator.
     *
     * Emits {DatasetUnfrozen}.
     */
    function unfreeze(bytes32 datasetId, bytes32 reasonHash) external;

    /**
     * @dev Records that the owner's node removed a version's plaintext (a deletion the law requires).
     * A freeze does not stop it: a freeze keeps evidence for an investigation, and the evidence (the
     * root, the events) stays; only the plaintext, which the law orders deleted, leaves.
     *
     * Requirements:
     * - the caller serves the owner department; the ledger is not paused;
     * - the version exists and was not purged before.
     *
     * Emits {VersionPurged}.
     */
    function purgeVersion(bytes32 datasetId, uint32 version, bytes32 reasonHash, bytes32 subjectHash) external;

    /// @dev Whether version `version` of the dataset was purged.
    function isPurged(bytes32 datasetId, uint32 version) external view returns (bool);

    /// @dev The longest catalog text (metadata or schema) accepted, in bytes.
    function MAX_TEXT() external view returns (uint256);

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

    /// @dev Whether the dataset is frozen, and whether a coordinator froze it; reverts with
    /// {RegistryUnknownDataset}.
    function freezeOf(bytes32 datasetId) external view returns (bool frozen, bool byCoordinator);

    /// @dev The id department `department` registers under `code`: `keccak256(abi.encode(department, code))`.
    function datasetIdOf(bytes32 department, bytes32 code) external pure returns (bytes32);
}
