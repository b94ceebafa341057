"""Whether a node can record uses now, and why not: what ``/health`` reports and the rule by
which the API refuses work it could not record (backpressure).

The node cannot record a use when its chain does not answer, when more writes wait in its
outbox than it takes on (``max_backlog``), when its database does not answer, or when its outbox
or its indexer has gone ``stall_after`` seconds without a successful step (failing, hung, or not
running). Then a delivery or any other request that writes to the chain is refused with 503,
before anything leaves; reads that need no chain go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ledger.errors import ChainUnavailable
from ledger.rpc import RpcBatcher
from node.chain.outbox import Backlog
from node.supervision import WorkerHealth, describe

RECORDING_WORKERS = ("outbox", "indexer")
"""The loops a use needs to reach the chain and the index; the others only degrade the node."""


@dataclass(frozen=True)
class ChainStatus:
    reachable: bool
    head: int | None = None
    head_age: float | None = None
    """Seconds since the head block's time: a head that stops moving shows here."""
    error: str | None = None


def read_chain(rpc: RpcBatcher) -> ChainStatus:
    """The chain's head, read in one request bounded by the batcher's timeout."""
    try:
        [head] = rpc.call([("eth_getBlockByNumber", ["latest", False])])
    except ChainUnavailable as err:
        return ChainStatus(False, error=describe(err))
    if head.error or not isinstance(head.result, dict):
        return ChainStatus(False, error=f"the chain answered with an error: {head.message or 'no block'}"[:300])
    stamp = int(head.result["timestamp"], 16)
    return ChainStatus(True, int(head.result["number"], 16), max(time.time() - stamp, 0.0))


@dataclass(frozen=True)
class NodeHealth:
    chain: ChainStatus
    indexed: int | None
    backlog: Backlog | None
    """None when the database did not answer."""
    workers: dict[str, WorkerHealth]
    database_error: str | None = None
    refusals: list[str] = field(default_factory=list)
    """Why the node cannot record uses now, in words; empty when it can."""

    @property
    def can_record(self) -> bool:
        return not self.refusals

    @property
    def index_lag(self) -> int | None:
        if self.chain.head is None or self.indexed is None:
            return None
        return max(self.chain.head - self.indexed, 0)

    @property
    def degraded(self) -> bool:
        """Recording works, but some loop is failing or slow."""
        return any(w.status not in ("ok", "starting") for w in self.workers.values())


def refusals(chain: ChainStatus, backlog: Backlog | None, workers: dict[str, WorkerHealth], *,
             database_error: str | None, max_backlog: int) -> list[str]:
    """The rule: every reason the node cannot record a use now (none: it can)."""
    found = []
    if not chain.reachable:
        found.append(f"the chain does not answer ({chain.error})")
    if database_error is not None:
        found.append(f"the node's database does not answer ({database_error})")
    if backlog is not None and backlog.open > max_backlog:
        found.append(f"{backlog.open} chain writes are waiting to be recorded, more than the {max_backlog} "
                     "this node takes on")
    for name in RECORDING_WORKERS:
        worker = workers.get(name)
        if worker is None or worker.status == "stopped":
            found.append(f"the node's {name} is not running")
        elif worker.status == "stalled":
            since = "" if worker.last_success_age is None else f" for {worker.last_success_age:.0f} s"
            last = f" (last error: {worker.last_error})" if worker.last_error else ""
            found.append(f"the node's {name} has not completed a step{since}{last}")
    return found
