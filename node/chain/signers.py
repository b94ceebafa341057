"""Consensus in step with membership: the Clique signers follow the Consortium contract.

When the members vote a department in (``DepartmentAdmitted``) or out (``DepartmentRemoved``),
each member's node asks its own geth to vote the department's validator in or out of the
Clique signers (``clique_propose``). A signer casts its vote in each block it seals; once more
than half of the signers voted, the validator joins or leaves. The watcher reads the events
``confirmations`` deep (Clique has no finality), proposes again on every step until
``clique_getSigners`` agrees, then withdraws the proposal (``clique_discard``). It keeps no
state outside memory: started again, it reads the events from the deployment block and
reaches the same proposals. The ``clique`` calls go to ``clique``, the geth's IPC connection
(its HTTP endpoint serves no votes); events are read through the contract's connection.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3.types import RPCEndpoint

from ledger.chain import endpoint
from ledger.contracts import ConsortiumClient
from ledger.errors import ChainUnavailable
from ledger.events import EventDecoder, fetch_events
from node.supervision import Supervised

log = logging.getLogger(__name__)

MEMBERSHIP_EVENTS = ("DepartmentAdmitted", "DepartmentRemoved")


@dataclass(frozen=True)
class SignerVote:
    """This node's open vote: ``validator`` should (``authorize``) or should not sign blocks."""

    validator: str
    authorize: bool


class SignerWatcher:
    """Makes one geth node vote its Clique signers to match the consortium's members."""

    def __init__(self, consortium: ConsortiumClient, *, from_block: int, confirmations: int = 1,
                 clique: Web3 | None = None) -> None:
        self.w3: Web3 = consortium.w3
        self.clique: Web3 = clique or consortium.w3
        abi: list[dict[str, Any]] = list(consortium.contract.abi)  # type: ignore[arg-type]
        self._decoder = EventDecoder(self.w3).add_contract("Consortium", consortium.address, abi)
        self._topics = ["0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                        for item in abi if item.get("type") == "event" and item.get("name") in MEMBERSHIP_EVENTS]
        self._next_block = from_block
        self.confirmations = max(confirmations, 1)
        self.wanted: dict[str, bool] = {}
        """Each validator the events named, and whether its department is a member now."""
        self._proposed: set[str] = set()

    def step(self) -> list[SignerVote]:
        """Read new membership events, vote where the signers differ; returns the open votes."""
        try:
            self._read_events()
            signers = {Web3.to_checksum_address(s) for s in self._rpc("clique_getSigners", [])}
            votes = []
            for validator, authorize in self.wanted.items():
                if (validator in signers) == authorize:
                    if validator in self._proposed:
                        self._rpc("clique_discard", [validator])
                        self._proposed.discard(validator)
                        where = "among" if authorize else "out of"
                        log.info("clique: %s is %s the signers; vote closed", validator, where)
                    continue
                # Proposed again on every step: a restarted geth has forgotten its proposals.
                self._rpc("clique_propose", [validator, authorize])
                if validator not in self._proposed:
                    self._proposed.add(validator)
                    log.info("clique: voting %s %s", "in" if authorize else "out", validator)
                votes.append(SignerVote(validator, authorize))
        except ChainUnavailable:
            raise
        except OSError as err:  # geth's IPC socket gone (HTTP failures come as ChainUnavailable)
            raise ChainUnavailable(endpoint(self.clique)) from err
        return votes

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Step every ``interval`` seconds until ``stop``, supervised: a geth that is down is
        waited out with backoff, and the votes are cast again once it is back."""
        Supervised("signers", self._vote, idle=interval).run(stop)

    def _vote(self) -> int:
        self.step()
        return 0  # proposed again on the next step whatever happened: always wait the interval

    def _read_events(self) -> None:
        last = self.w3.eth.block_number - (self.confirmations - 1)
        if last < self._next_block:
            return
        for event in fetch_events(self.w3, self._decoder, self._next_block, last, topics=[self._topics]):
            self.wanted[Web3.to_checksum_address(event.args["validator"])] = event.name == "DepartmentAdmitted"
        self._next_block = last + 1

    def _rpc(self, method: str, params: list[Any]) -> Any:
        return self.clique.manager.request_blocking(RPCEndpoint(method), params)
