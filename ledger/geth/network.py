"""The network of geth nodes as seen from outside: each node's peers, head and signers, and
the waits until they are peered and in sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3._utils.threads import Timeout
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from ledger.clique_signer import SignerRefused
from ledger.errors import ChainReadFailed, ChainStartFailed, ChainUnavailable
from ledger.geth.keys import clique_ipc
from ledger.rpc import RpcBatcher
from ledger.waiting import wait_for

IPC_ERRORS = (OSError, ValueError, Web3Exception, Timeout, SignerRefused)
"""What a call over a node's IPC socket or its signer's raises when either is down or refuses
(web3's IPC provider times out with its own ``Timeout``, no ``Web3Exception``)."""


@dataclass(frozen=True)
class NodeStatus:
    """What one node reports; ``up`` is False (and the rest empty) when it does not answer."""

    url: str
    up: bool
    peers: int = 0
    head: int = -1
    head_hash: str = ""
    signers: tuple[str, ...] = ()


def node_status(url: str, timeout: float = 5.0, *, ipc_path: Path | None = None) -> NodeStatus:
    """Peers and head over HTTP; the Clique signers too when ``ipc_path`` names the node's IPC
    socket (HTTP serves no ``clique`` calls)."""
    try:
        with RpcBatcher(url, timeout=timeout) as rpc:
            peers, head = rpc.call([("net_peerCount", []), ("eth_getBlockByNumber", ["latest", False])])
    except (ChainUnavailable, ChainReadFailed):
        return NodeStatus(url, up=False)
    if peers.error or head.error or not head.result:
        return NodeStatus(url, up=False)
    signers: list[str] = []
    if ipc_path is not None:
        try:
            signers = clique_ipc(ipc_path, timeout).manager.request_blocking(RPCEndpoint("clique_getSigners"), [])
        except IPC_ERRORS:
            return NodeStatus(url, up=False)
    return NodeStatus(url, True, int(peers.result, 16), int(head.result["number"], 16), head.result["hash"],
                      tuple(Web3.to_checksum_address(s) for s in signers))


def block_hash(url: str, number: int) -> str | None:
    with RpcBatcher(url, timeout=5) as rpc:
        reply = rpc.call([("eth_getBlockByNumber", [hex(number), False])])[0]
    return str(reply.result["hash"]) if reply.result else None


def wait_until_peered(urls: Sequence[str], timeout: float = 120.0, blocks: int = 0) -> list[NodeStatus]:
    """Wait until every node has all the others as peers and its head moved ``blocks`` on."""
    first: dict[str, int] = {}
    seen: list[NodeStatus] = []

    def peered() -> list[NodeStatus] | None:
        seen[:] = [node_status(url) for url in urls]
        for s in seen:
            if s.up:
                first.setdefault(s.url, s.head)
        return list(seen) if all(s.up and s.peers >= len(urls) - 1 and s.head >= first[s.url] + blocks
                                 for s in seen) else None

    return wait_for(peered, timeout=timeout, what="the network peered", interval=0.2,
                    timed_out=lambda: ChainStartFailed("geth", "network not ready: " + "; ".join(
                        f"{s.url} up={s.up} peers={s.peers} head={s.head}" for s in seen)))


def wait_in_sync(urls: Sequence[str], timeout: float = 120.0, depth: int = 2, max_lag: int = 2) -> tuple[int, str]:
    """Wait until every node is within ``max_lag`` blocks of the highest head and all hold the
    same block ``depth`` below the lowest head (Clique's tip can still reorg); returns it."""
    seen: list[NodeStatus] = []

    def in_sync() -> tuple[int, str] | None:
        seen[:] = [node_status(url) for url in urls]
        heads = [s.head for s in seen if s.up]
        if len(heads) == len(urls) and max(heads) - min(heads) <= max_lag and min(heads) >= depth:
            number = min(heads) - depth
            hashes = {block_hash(url, number) for url in urls}
            if len(hashes) == 1 and None not in hashes:
                return number, str(hashes.pop())
        return None

    return wait_for(in_sync, timeout=timeout, what="the nodes in sync", interval=0.5,
                    timed_out=lambda: ChainStartFailed("geth", "nodes not in sync: " + "; ".join(
                        f"{s.url} up={s.up} head={s.head}" for s in seen)))
