"""``python -m node.consortium up|down|status`` (or ``provledger consortium``): a consortium
of departments on one machine.

``up --departments N`` (or named: ``--department civil-affairs=民政局 ...``, ``--departments-file``,
:mod:`node.departments`) gives each department a validator key, a node key and a service
account, writes a Clique genesis whose signers are the departments' validators, starts one geth
per department on 127.0.0.1 peered with the others, starts their sealing one signer at a time
(``ledger.sealing``: a start cannot deadlock), deploys the contracts with the departments as
founders (the first department holds the coordinator key) and runs each department's node
service against its own geth until stopped. ``down`` stops it from another shell; ``status``
shows each node's peers, head, lag and the signers. ``up`` on an existing folder starts the
same consortium again.

The consortium folder (default ``build/consortium``):

    consortium.json    chain id, departments (accounts, node id, ports), process ids
    genesis.json       the Clique genesis
    deployment.json    the contracts' manifest
    <code>/passphrase  the department's keystore passphrase (0600)
    <code>/keys/       service.json (node service account), node.json (p2p key), coordinator.json
    <code>/geth/       geth's data (0700): keystore/ (validator key), config.toml (peers), geth.log,
                       geth.ipc (every API), signer.ipc (the validator's Clique signer), signer.log
    <code>/data/       the node service's SQLite database

Where each part lives:

    members.py      the consortium folder's constants and a department's record and keys
    service.py      one department's node service on its own geth (outbox and Clique votes)
    consortium.py   :class:`Consortium`: the geth nodes, the contracts and the services of one folder
    commands.py     ``up``, ``down``, ``status`` and the argparse ``main``
    folder.py       one department's node folder on its own machine (``provledger node init``),
                    its facts, the founders' genesis and the peers file
    operator.py     ``provledger node start|join`` (founding seals released by a rule each node
                    computes alone, then the services once the manifest is there), the
                    coordinator's gas for new accounts, ``consortium deploy``
"""

from node.consortium.commands import down, main, print_status, up
from node.consortium.consortium import Consortium
from node.consortium.members import (
    CONFIRMATIONS, DEFAULT_CHAIN_ID, DEFAULT_DIR, DEPARTMENTS, FUNDS, GAS_PRICE, STATE_FILE, DepartmentStatus, Member,
)
from node.consortium.service import DepartmentNode, start_service

__all__ = [
    "CONFIRMATIONS", "DEFAULT_CHAIN_ID", "DEFAULT_DIR", "DEPARTMENTS", "FUNDS", "GAS_PRICE", "STATE_FILE", "Consortium",
    "DepartmentNode", "DepartmentStatus", "Member", "down", "main", "print_status", "start_service", "up",
]
