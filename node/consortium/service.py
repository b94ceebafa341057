"""One department's node service on its own geth, as the consortium runs it: the outbox sent
and the Clique votes kept in step with membership, both waiting out a geth that is down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from web3 import Web3

from ledger.compile import ContractArtifact
from ledger.waiting import wait_for
from node.chain.signers import SignerWatcher
from node.consortium.members import GAS_PRICE
from node.service import NodeService
from node.settings import NodeSettings

log = logging.getLogger(__name__)


def start_service(settings: NodeSettings, artifacts: Mapping[str, ContractArtifact]) -> NodeService:
    """The department's node service on its own geth, paying the consortium's fixed gas price
    (geth 1.13 raises a zero miner price to 1 gwei, so the network runs on one known price)."""
    service = NodeService.start(settings, dict(artifacts))
    service.sender.gas_price = GAS_PRICE
    service.sender.poll_interval = 0.1
    return service


class DepartmentNode:
    """A department's node service with two threads: one sends its outbox, one keeps its
    geth's Clique votes in step with membership. Both wait out a geth that is down."""

    def __init__(self, service: NodeService, watcher: SignerWatcher, *, retry_delay: float = 1.0) -> None:
        self.service = service
        self.watcher = watcher
        self.retry_delay = retry_delay
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        code = service.settings.department_id
        self._threads = [
            threading.Thread(target=self._keep_running, args=(self._send_outbox,), name=f"outbox-{code}", daemon=True),
            threading.Thread(target=self._keep_running, args=(watcher.run,), name=f"signers-{code}", daemon=True),
        ]

    @classmethod
    def start(cls, settings: NodeSettings, artifacts: Mapping[str, ContractArtifact], *, clique: Web3
              ) -> DepartmentNode:
        """``clique`` is the geth's IPC connection: its HTTP endpoint takes no votes."""
        service = start_service(settings, artifacts)
        watcher = SignerWatcher(service.ledger.consortium, from_block=service.ledger.manifest.deployment_block,
                                confirmations=settings.confirmations, clique=clique)
        node = cls(service, watcher)
        for thread in node._threads:
            thread.start()
        return node

    def _send_outbox(self, stop: threading.Event) -> None:
        self.service.outbox.run(stop, idle_sleep=0.1)

    def _keep_running(self, loop: Callable[[threading.Event], None]) -> None:
        while not self._stop.is_set():
            try:
                loop(self._stop)
            # The loops wait out ChainUnavailable themselves; anything else a dead geth raises
            # (a refused connection inside web3, a refused send) must not end them either:
            # what the outbox holds is safe in SQL and goes out once the node answers.
            except Exception as err:
                self.last_error = err
                log.warning("%s: %s; retrying", threading.current_thread().name, err)
                self._stop.wait(self.retry_delay)

    def wait_idle(self, timeout: float = 180.0) -> None:
        """Wait until every write the outbox holds is confirmed or failed."""
        wait_for(lambda: None if self.service.outbox.open_count() > 0 else True, timeout=timeout,
                 what="the outbox to empty", interval=0.2, timed_out=lambda: TimeoutError(
                     f"{self.service.outbox.open_count()} writes still open after {timeout:.0f} s "
                     f"(last error: {self.last_error})"))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.service.close()
