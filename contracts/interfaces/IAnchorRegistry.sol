// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/**
 * @dev Merkle roots over batches of hashes: dataset versions, delivery receipts, lifecycle
 * evidence, quality reports, settlement statements. Anyone holding an item and its proof
 * can show it was anchored, off-chain with the Python verifier or on-chain with
 * {verifyInclusion}; both follow one hashing rule:
 *
 *   leaf = sha256(0x00 || item)            node = sha256(0x01 || min(a, b) || max(a, b))
 *
 * The prefixes keep a leaf from passing for a node; sorting each pair makes the proof a
 * plain list of siblings, as OpenZeppelin's MerkleProof expects. A level with an odd count
 * carries its last node up unchanged.
 *
 * Roots are kept per anchoring department: an anchor is found by `(department, root)`. Another
 * department anchoring a root first neither blocks the owner's anchor nor passes for it.
 */
interface IAnchorRegistry {
    enum Kind {
        DatasetVersions,
        DeliveryReceipts,
        LifecycleEvidence,
        QualityReports,
        SettlementStatements
    }

    struct Anchor {
        bytes32 department;
        address by;
        uint32 leafCount;
        Kind kind;
        uint64 anchoredAt;
        uint64 blockNumber;
    }

    /// @dev Department `department` anchored `root` already.
    error AnchorRootExists(bytes32 root, bytes32 department);
    /// @dev A root is not zero and covers at least one leaf.
    error AnchorEmptyTree(bytes32 root, uint32 leafCount);
    /// @dev Department `department` never anchored `root`.
    error AnchorUnknownRoot(bytes32 department, bytes32 root);

    /// @dev Department `department` anchored `root` over `leafCount` items of `kind`.
    event RootAnchored(
        bytes32 indexed root,
        bytes32 indexed department,
        Kind indexed kind,
        address by,
        uint32 leafCount
    );

    /**
     * @dev Anchors a Merkle root.
     *
     * Requirements:
     * - the caller serves an active department; the ledger is not paused;
     * - `root` is not zero and the caller's department never anchored it (other departments may
     *   have); `leafCount` is not zero.
     *
     * Emits {RootAnchored}.
     */
    function anchor(bytes32 root, uint32 leafCount, Kind kind) external;

    /// @dev Department `department`'s anchor of `root`; reverts with {AnchorUnknownRoot}.
    function anchorOf(bytes32 department, bytes32 root) external view returns (Anchor memory);

    /// @dev Whether `item` is a leaf of `root`, as anchored by `department`, by `proof`; reverts
    /// with {AnchorUnknownRoot} for a root that department never anchored.
    function verifyInclusion(
        bytes32 department,
        bytes32 root,
        bytes calldata item,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @dev The leaf hash of `item`.
    function leafHash(bytes calldata item) external pure returns (bytes32);

    /// @dev The hash of two sibling nodes, in either order.
    function nodeHash(bytes32 a, bytes32 b) external pure returns (bytes32);
}
