"""Clique sealing that starts without deadlock, and a watch that recovers a chain that stalls.

Clique lets a signer seal at most one of every ``floor(N/2) + 1`` consecutive blocks (geth:
"signed recently, must wait for others"). When every geth seals from the moment it starts, each
may seal its own block 1 before the nodes are peered: each node then sits on a fork whose last
block it signed itself; geth keeps its own block against an equally heavy one and, with fewer
than 5 peers, syncs to a heavier fork only every 10 s, so the forks can stay apart. That is
how a consortium start (then ``scripts.consortium up``, now ``node.consortium``) once stopped at block 1.

So sealing is started, never assumed: each geth's miner runs from the start (until it first
runs, geth drops the blocks its peers propagate), but its signer (``ledger.clique_signer``)
holds every seal. Once every node has all the others as peers, the signers are let go one at a
time (``GethNode.seal``: ``signer_seal``, then a new vanity, ``miner_stop`` and ``miner_start``
over IPC so that geth tries at once), first one that Clique allows to seal the next block, and
each next one only after the block the previous one sealed reached every node. At any moment
at most one signer has not yet built on the common chain, so there is never a second fork to
compete with. If the head still stops moving for a
bound (a node missed a block, a peer dropped), :func:`wait_for_head` does not give up: it
holds every signer, rewinds every node to the newest block they all hold (``debug_setHead``)
and lets the signers go in order again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ledger.errors import ChainStartFailed
from ledger.geth import IPC_ERRORS, GethNode, NodeStatus, block_hash, node_status
from ledger.waiting import WaitTimedOut, wait_for

log = logging.getLogger(__name__)

HELD_SETTLE = 2.0
"""Seconds after holding every signer until no block signed before can still appear: Clique
publishes a seal at most ``(N/2 + 1) * 0.5`` s after the block's time (N = 3 to 5: 1 to 1.5 s)."""


def sealing_order(nodes: Sequence[GethNode], snapshot: dict[str, Any]) -> list[GethNode]:
    """The nodes in an order in which each may seal the next block once the previous one did:
    signers Clique allows to seal the block after the snapshot first (the in-turn one first,
    so it seals without the out-of-turn delay), then by how long ago they last sealed; nodes
    whose validator is no signer last."""
    signers = sorted(str(s).lower() for s in snapshot["signers"])
    last_sealed = {str(v).lower(): int(k) for k, v in snapshot["recents"].items()}
    number = int(snapshot["number"]) + 1
    limit = len(signers) // 2 + 1
    in_turn = signers[number % len(signers)]

    def key(node: GethNode) -> tuple[int, int, int]:
        validator = node.validator.lower()
        if validator not in signers:
            return 2, 0, 0
        seen = last_sealed.get(validator, -1)
        blocked = seen >= 0 and (number < limit or seen > number - limit)
        return int(blocked), int(validator != in_turn), seen

    return sorted(nodes, key=key)


def start_sealing(nodes: Sequence[GethNode], *, step_timeout: float = 10.0) -> None:
    """Start sealing on every node, one signer at a time (the nodes must be peered already)."""
    highest, _ = max(((n, s) for n, s in zip(nodes, _statuses(nodes)) if s.up), key=lambda pair: pair[1].head)
    snapshot = highest.control("clique_getSnapshot", ["latest"])
    signers = {str(s).lower() for s in snapshot["signers"]}
    for node in sealing_order(nodes, snapshot):
        before = max(s.head for s in _statuses(nodes))
        node.seal()
        if node.validator.lower() not in signers:
            continue
        if not _until(lambda: min(s.head for s in _statuses(nodes)) > before, step_timeout):
            # Not fatal: the others start anyway, and wait_for_head recovers a stall.
            log.warning("sealing: no block past %d on every node %.0f s after %s started", before, step_timeout,
                        node.validator)


def wait_for_head(nodes: Sequence[GethNode], target: int, *, stall_after: float = 20.0, timeout: float = 300.0,
                  step_timeout: float = 10.0) -> list[NodeStatus]:
    """Wait until every node's head reaches ``target``; whenever the highest head stays still for
    ``stall_after`` seconds, restart sealing in order (:func:`restart_sealing`) and wait again."""
    top, moved = -1, time.monotonic()
    seen: list[NodeStatus] = []

    def reached() -> list[NodeStatus] | None:
        nonlocal top, moved
        seen[:] = _statuses(nodes)
        if all(s.up for s in seen) and min(s.head for s in seen) >= target:
            return list(seen)
        if max(s.head for s in seen) > top:
            top, moved = max(s.head for s in seen), time.monotonic()
        elif time.monotonic() - moved > stall_after:
            log.warning("sealing: head stalled at %d for %.0f s; restarting the signers in order", top, stall_after)
            restart_sealing(nodes, step_timeout=step_timeout)
            moved = time.monotonic()
        return None

    return wait_for(reached, timeout=timeout, what=f"every head at {target}", interval=0.2,
                    timed_out=lambda: ChainStartFailed("geth", f"heads short of {target} after {timeout:.0f} s: " + "; ".join(
                        f"{s.url} up={s.up} peers={s.peers} head={s.head}" for s in seen)))


def restart_sealing(nodes: Sequence[GethNode], *, step_timeout: float = 10.0) -> int:
    """Hold every signer, rewind every node to the newest block all of them hold, and let the
    signers go in order again; returns that block's number."""
    running = [node for node, status in zip(nodes, _statuses(nodes)) if status.up]
    for node in running:
        _try(node, node.stop_sealing)
    # A block signed just before its signer held is published within the out-of-turn delay.
    time.sleep(HELD_SETTLE)
    common = common_block(running)
    # A node rewound first may sync a fork block back from a peer not rewound yet: again until none is above.
    for _ in range(3):
        above = [node for node in running if node_status(node.url).head > common]
        for node in above:
            _try(node, partial(node.control, "debug_setHead", [hex(common)]))
        if not above:
            break
    start_sealing(running, step_timeout=step_timeout)
    return common


def common_block(nodes: Sequence[GethNode]) -> int:
    """The newest block number at which every node holds the same block."""
    number = min(s.head for s in _statuses(nodes))
    while number > 0 and len({block_hash(node.url, number) for node in nodes}) > 1:
        number -= 1
    return max(number, 0)


def _statuses(nodes: Sequence[GethNode]) -> list[NodeStatus]:
    return [node_status(node.url) for node in nodes]


def _until(check: Callable[[], bool], timeout: float) -> bool:
    try:
        return wait_for(lambda: True if check() else None, timeout=timeout, what="sealing to go on", interval=0.1)
    except WaitTimedOut:
        return False


def _try(node: GethNode, call: Callable[[], object]) -> None:
    try:
        call()
    except IPC_ERRORS as err:
        log.warning("sealing: %s did not answer over IPC: %s", node.datadir, err)
