// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ConsortiumBound} from "./ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/// @title Merkle roots anchored by member departments, with on-chain inclusion checks.
contract AnchorRegistry is IAnchorRegistry, ConsortiumBound {
    uint256 public constant MAX_TEXT_LENGTH = 8192;

    mapping(bytes32 department => mapping(bytes32 root => Anchor)) private _anchors;

    constructor(IConsortium consortium_) ConsortiumBound(consortium_) {}

    function anchor(bytes32 root, uint32 leafCount, Kind kind) external whenLedgerNotPaused {
        bytes32 department = _callerDepartment();
        if (root == 0 || leafCount == 0) revert AnchorEmptyTree(root, leafCount);
        Anchor storage a = _anchors[department][root];
        if (a.anchoredAt != 0) revert AnchorRootExists(root, department);
        _anchors[department][root] = Anchor({
            department: department,
            by: msg.sender,
            leafCount: leafCount,
            kind: kind,
            anchoredAt: uint64(block.timestamp),
            blockNumber: uint64(block.number)
        });
        emit RootAnchored(root, department, kind, msg.sender, leafCount);
    }

    function publishText(string calldata text) external whenLedgerNotPaused returns (bytes32 textHash) {
        if (
            _consortium.departmentOf(msg.sender) == 0 &&
            _consortium.sponsorOf(msg.sender) == 0 &&
            !_callerIsCoordinator() &&
            !_consortium.isAuditor(msg.sender)
        ) revert AnchorNotParticipant(msg.sender);
        uint256 length = bytes(text).length;
        if (length == 0 || length > MAX_TEXT_LENGTH) revert AnchorInvalidText(length);
        textHash = keccak256(bytes(text));
        emit TextPublished(textHash, msg.sender, text);
    }

    function anchorOf(bytes32 department, bytes32 root) external view returns (Anchor memory) {
        Anchor memory a = _anchors[department][root];
        if (a.anchoredAt == 0) revert AnchorUnknownRoot(department, root);
        return a;
    }

    function verifyInclusion(
        bytes32 department,
        bytes32 root,
        bytes calldata item,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (_anchors[department][root].anchoredAt == 0) revert AnchorUnknownRoot(department, root);
        return MerkleProof.verifyCalldata(proof, root, _leafHash(item), _nodeHash);
    }

    function leafHash(bytes calldata item) external pure returns (bytes32) {
        return _leafHash(item);
    }

    function nodeHash(bytes32 a, bytes32 b) external pure returns (bytes32) {
        return _nodeHash(a, b);
    }

    function _leafHash(bytes calldata item) private pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), item));
    }

    function _nodeHash(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? sha256(abi.encodePacked(bytes1(0x01), a, b)) : sha256(abi.encodePacked(bytes1(0x01), b, a));
    }
}
