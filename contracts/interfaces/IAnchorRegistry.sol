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
 *
 * It also carries the texts behind the hashes other contracts keep (a purpose, a reason for a
 * decision, a repair note, a quality report): {publishText} puts a text in an event under
 * `keccak256(bytes(text))`, so every node can show it and check it against the hash it stands
 * behind. Publishing keeps nothing in storage; a text published twice is in two events.
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
    /// @dev A published text is 1 to {MAX_TEXT_LENGTH} bytes; this one is `length` bytes.
    error AnchorInvalidText(uint256 length);
    /// @dev `account` is none of a department's service account, a consumer, a coordinator or an auditor.
    error AnchorNotParticipant(address account);

    /// @dev Department `department` anchored `root` over `leafCount` items of `kind`.
    event RootAnchored(
        bytes32 indexed root,
        bytes32 indexed department,
        Kind indexed kind,
        address by,
        uint32 leafCount
    );

    /// @dev `by` published `text`, whose keccak256 is `textHash`.
    event TextPublished(bytes32 indexed textHash, address indexed by, string text);

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

    /**
     * @dev Publishes the text behind a hash written elsewhere on chain, and returns
     * `keccak256(bytes(text))`.
     *
     * Requirements:
     * - the caller serves an active department, is a registered consumer, a coordinator or an
     *   auditor; the ledger is not paused;
     * - `text` is 1 to {MAX_TEXT_LENGTH} bytes.
     *
     * Emits {TextPublished}.
     */
    function publishText(string calldata text) external returns (bytes32 textHash);

    /// @dev The longest text {publishText} takes, in bytes.
    function MAX_TEXT_LENGTH() external view returns (uint256);

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
