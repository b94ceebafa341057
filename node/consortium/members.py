"""The consortium folder's constants, and a department as the folder records it: its accounts,
its geth's node id and ports, and the keys made for it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3.types import Wei

from ledger.compile import PROJECT_ROOT
from ledger.geth import GethPorts, NodeStatus, create_node_key, create_validator
from ledger.tx import TransactionSender, write_keystore

DEFAULT_DIR = PROJECT_ROOT / "build" / "consortium"
DEFAULT_CHAIN_ID = 20267
DEPARTMENTS = (
    ("stats-bureau", "Statistics Bureau"), ("health-commission", "Health Commission"),
    ("public-security", "Public Security Bureau"), ("natural-resources", "Natural Resources Bureau"),
    ("transport-bureau", "Transport Bureau"),
)
STATE_FILE = "consortium.json"
FUNDS = 10**24
"""What the genesis gives each founder's account, in wei; a joining department gets a thousandth."""
GAS_PRICE = Wei(10**9)
"""Every sender pays 1 gwei: far above the 7-wei base fee, so any signer includes the transaction
even after busy blocks raised the base fee (a sender keeps the price it started with)."""
CONFIRMATIONS = 3
DEFAULT_GAS_LIMIT = 100_000_000
"""The block gas limit of a new consortium, a consortium setting written into its genesis (``up
--gas-limit``, ``consortium genesis --gas-limit``; docs/consortium.md). It bounds the uses a
block holds: ~6,000 gas each in batches of 500, so 100 M gas in a 1 s block is room for ~16,000
uses a second, and 30 M was ~5,000. Every node executes every block: higher asks more of the
slowest member's machine, which must execute and pass on a block well inside the period."""



@dataclass
class Member:
    """A department as the consortium folder records it."""

    code: str
    name: str
    validator: str
    service: str
    node_id: str
    ports: GethPorts
    founder: bool = True
    pid: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(**{**data, "ports": GethPorts(**data["ports"])})


@dataclass(frozen=True)
class DepartmentStatus:
    code: str
    validator: str
    node: NodeStatus
    lag: int | None
    signer: bool
    name: str = ""


def send_funds(sender: TransactionSender, address: str, amount: int) -> None:
    """Send ``amount`` wei of gas money from ``sender`` to ``address`` and wait until it is mined."""
    params = {"to": address, "value": amount, "gas": 21000, "gasPrice": sender.gas_price, "chainId": sender.chain_id}
    _, raw, tx_hash = sender.sign_next(params)
    try:
        sender.w3.eth.send_raw_transaction(raw)
    except Exception:
        sender.nonces.resync()
        raise
    sender.wait(tx_hash)


def new_member(directory: Path, code: str, name: str, founder: bool, scrypt_n: int | None = None) -> Member:
    folder = directory / code
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    passphrase = secrets.token_urlsafe(24)
    password_file = folder / "passphrase"
    password_file.touch(mode=0o600)
    password_file.write_text(passphrase)
    validator = create_validator(folder / "geth" / "keystore", passphrase, scrypt_n=scrypt_n)
    node_id = create_node_key(folder / "keys" / "node.json", passphrase, scrypt_n=scrypt_n)
    service = Account.create()
    write_keystore(service, folder / "keys" / "service.json", passphrase, scrypt_n=scrypt_n)
    return Member(code, name, validator, service.address, node_id, GethPorts.free(), founder)
