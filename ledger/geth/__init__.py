"""geth v1.13.15 for a Clique proof-of-authority network whose signers are the departments.

1.13.15 is the last geth release that still seals Clique blocks. :func:`ensure_geth` builds it
once with the Go toolchain (from the Go module proxy) and caches the binary; :func:`clique_genesis`
writes a pre-merge genesis for the contracts' ``paris`` EVM; :class:`GethNode` runs one
department's geth on 127.0.0.1, peered by a static list (``ledger.sealing`` starts a
consortium's signers in an order that cannot deadlock). geth holds no key: it seals through
``ledger.clique_signer``, which signs block headers and nothing else, and it serves only
``eth,net,web3`` over HTTP; the ``admin``, ``clique``, ``miner`` and ``debug`` calls go through
its IPC socket (0600, in a 0700 folder). Keys stay in encrypted keystores: the node key is
decrypted into a file only while geth starts.
"""

from ledger.geth.build import DEFAULT_GETH_DIR, GETH_VERSION, ensure_geth, geth_version, main
from ledger.geth.keys import (
    BASE_FEE, clique_genesis, clique_ipc, clique_web3, create_node_key, create_validator, node_id_of,
    validator_keystore,
)
from ledger.geth.network import IPC_ERRORS, NodeStatus, block_hash, node_status, wait_in_sync, wait_until_peered
from ledger.geth.node import HTTP_APIS, MIN_TIP, GethNode, GethPorts, stop_pid

__all__ = [
    "BASE_FEE", "DEFAULT_GETH_DIR", "GETH_VERSION", "HTTP_APIS", "IPC_ERRORS", "MIN_TIP", "GethNode", "GethPorts",
    "NodeStatus", "block_hash", "clique_genesis", "clique_ipc", "clique_web3", "create_node_key", "create_validator",
    "ensure_geth", "geth_version", "main", "node_id_of", "node_status", "stop_pid", "validator_keystore",
    "wait_in_sync", "wait_until_peered",
]
