// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IConsortium} from "./interfaces/IConsortium.sol";

/**
 * @dev Base of every provledger contract other than {Consortium}: who the caller is and
 * whether the ledger is paused are always the Consortium's answer, never a local copy.
 */
abstract contract ConsortiumBound {
    IConsortium internal immutable _consortium;

    constructor(IConsortium consortium_) {
        _consortium = consortium_;
    }

    /// @dev The Consortium contract this one takes its members and roles from.
    function consortium() external view returns (IConsortium) {
        return _consortium;
    }

    modifier whenLedgerNotPaused() {
        if (_consortium.paused()) revert IConsortium.ConsortiumIsPaused();
        _;
    }

    /// @dev The active department the caller serves; reverts for anyone else.
    function _callerDepartment() internal view returns (bytes32 departmentId) {
        departmentId = _consortium.departmentOf(msg.sender);
        if (departmentId == 0) revert IConsortium.ConsortiumNotADepartment(msg.sender);
    }

    function _callerIsCoordinator() internal view returns (bool) {
        return _consortium.isCoordinator(msg.sender);
    }
}
