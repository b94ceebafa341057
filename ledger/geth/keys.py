"""Keys and genesis of a Clique network: validator and p2p node keys in encrypted keystores, a
pre-merge genesis for the contracts' ``paris`` EVM, and web3 connections that read Clique
blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_keys.datatypes import PrivateKey
from web3 import IPCProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from ledger.chain import ChainProvider
from ledger.tx import write_keystore

BASE_FEE = 7


def create_validator(keystore_dir: Path, passphrase: str, *, scrypt_n: int | None = None) -> str:
    """A new validator key, encrypted into the node's keystore folder; returns its address."""
    account = Account.create()
    write_keystore(account, validator_keystore(keystore_dir, account.address), passphrase, scrypt_n=scrypt_n)
    return str(account.address)


def validator_keystore(keystore_dir: Path, validator: str) -> Path:
    return keystore_dir / f"validator-{validator.lower()}.json"


def create_node_key(path: Path, passphrase: str, *, scrypt_n: int | None = None) -> str:
    """A new p2p node key, encrypted at ``path``; returns the node id (public key, hex)."""
    account = Account.create()
    write_keystore(account, path, passphrase, scrypt_n=scrypt_n)
    return node_id_of(bytes(account.key))


def node_id_of(private_key: bytes) -> str:
    return str(PrivateKey(private_key).public_key.to_bytes().hex())


def clique_genesis(
    chain_id: int, signers: Sequence[str], alloc: Mapping[str, int], *, period: int = 1, epoch: int = 30000,
    gas_limit: int = 30_000_000,
) -> dict[str, Any]:
    """A Clique genesis that stays before the merge: every fork up to gray glacier at block 0,
    no terminal total difficulty, no Shanghai or Cancun (the contracts target ``paris``)."""
    if period < 1:
        raise ValueError("a Clique period below 1 s seals no empty blocks and stalls the tests' clocks")
    forks = ("homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg", "istanbul",
             "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier")
    signer_bytes = "".join(Web3.to_checksum_address(s)[2:].lower() for s in sorted(signers, key=str.lower))
    return {
        "config": {"chainId": chain_id, **{f"{fork}Block": 0 for fork in forks},
                   "clique": {"period": period, "epoch": epoch}},
        "difficulty": "0x1",
        "gasLimit": hex(gas_limit),
        # Where EIP-1559 stops lowering the base fee: gas costs nothing on a consortium chain.
        "baseFeePerGas": hex(BASE_FEE),
        "extraData": "0x" + "00" * 32 + signer_bytes + "00" * 65,
        "alloc": {Web3.to_checksum_address(a)[2:].lower(): {"balance": hex(v)} for a, v in alloc.items()},
    }


def clique_web3(url: str, timeout: float = 10.0) -> Web3:
    """A web3 connection that reads Clique blocks (97-byte extra data), made without asking the
    node anything: unlike ``ledger.chain.connect`` it works while that node is down."""
    w3 = Web3(ChainProvider(url, timeout=timeout))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def clique_ipc(path: Path, timeout: float = 10.0) -> Web3:
    """A web3 connection over geth's IPC socket that reads Clique blocks."""
    w3 = Web3(IPCProvider(str(path), timeout=max(1, round(timeout))))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3
