"""Sending transactions: local signing, nonces shared safely by threads, gas with a margin,
pipelined sends, receipts after N confirmations, replacement of a stuck transaction, and a
decoded exception on revert."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import TransactionNotFound, Web3Exception, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from ledger.errors import TransactionReverted, TransactionTimeout
from ledger.revert import ErrorDecoder
from ledger.waiting import wait_for

# ---------------------------------------------------------------- keystores


def load_keystore(path: Path, passphrase: str) -> LocalAccount:
    """The account in an encrypted (Web3 Secret Storage) keystore file."""
    key = Account.decrypt(Path(path).read_text(), passphrase)
    account: LocalAccount = Account.from_key(key)
    return account


LIGHT_SCRYPT_N = 4096
"""geth's ``--lightkdf`` cost: 64 times cheaper than the standard 262,144, for throwaway keys."""


def write_keystore(account: LocalAccount, path: Path, passphrase: str, *, scrypt_n: int | None = None) -> Path:
    """Encrypt ``account`` into ``path``, readable by its owner only (scrypt at eth_account's
    standard cost unless ``scrypt_n`` says otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(account.key, passphrase, iterations=scrypt_n)))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- nonces


class NonceManager:
    """Hands out the nonces of one account to any number of threads, without gaps.

    A nonce is reserved and the transaction sent under one lock, so the node receives them in
    order; a failed send gives its nonce back by re-reading the account's pending count.
    """

    def __init__(self, w3: Web3, address: ChecksumAddress) -> None:
        self._w3 = w3
        self._address = address
        self._lock = threading.Lock()
        self._next: int | None = None

    @contextmanager
    def reserve(self) -> Iterator[int]:
        with self._lock:
            if self._next is None:
                self._next = self._w3.eth.get_transaction_count(self._address, "pending")
            nonce = self._next
            try:
                yield nonce
            except BaseException:
                self._next = None
                raise
            self._next = nonce + 1

    def resync(self) -> None:
        with self._lock:
            self._next = None


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class Call:
    """A contract call already encoded: the contract's address and the calldata. What a hot
    path sends instead of a web3 ``ContractFunction``, which checks and normalises every
    argument against the ABI each time it is encoded (:meth:`ledger.clients.ContractClient.encode_call`)."""

    to: str
    data: bytes


def _to_and_data(call: ContractFunction | Call) -> tuple[str, HexStr]:
    if isinstance(call, Call):
        return call.to, HexStr("0x" + call.data.hex())
    return str(call.address), call._encode_transaction_data()


@dataclass(frozen=True)
class SentTransaction:
    tx_hash: HexBytes
    nonce: int
    params: dict[str, Any]


class TransactionSender:
    """Signs locally and sends for one account; safe to share between threads.

    A revert is raised as decoded by ``errors`` (a :class:`ledger.deploy.Ledger` given this
    sender adds its suite's custom errors to it).
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        errors: ErrorDecoder | None = None,
        gas_margin: float = 1.25,
        confirmations: int = 0,
        poll_interval: float = 0.005,
        timeout: float = 120.0,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.errors = errors or ErrorDecoder()
        self.gas_margin = gas_margin
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.nonces = NonceManager(w3, account.address)
        self.chain_id = w3.eth.chain_id
        self.gas_price = w3.eth.gas_price

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def estimate_gas(self, call: ContractFunction | Call, value: int = 0) -> int:
        """Gas for ``call`` with the margin; a revert raises its decoded error."""
        to, data = _to_and_data(call)
        params: TxParams = {"from": self.address, "to": Web3.to_checksum_address(to), "data": data, "value": Wei(value)}
        try:
            estimate = self.w3.eth.estimate_gas(params)
        except Web3Exception as err:
            raise self.errors.from_web3(err) from err
        return math.ceil(estimate * self.gas_margin)

    def send(self, call: ContractFunction | Call, *, gas: int | None = None, value: int = 0) -> SentTransaction:
        """Sign and send ``call`` without waiting for it to be mined."""
        return self._sign_and_send(self.call_params(call, gas=gas or self.estimate_gas(call, value), value=value))

    def call_params(self, call: ContractFunction | Call, *, gas: int, value: int = 0, price_bump: int = 0
                    ) -> dict[str, Any]:
        """The unsigned transaction for ``call``, without a nonce."""
        to, data = _to_and_data(call)
        return {
            "to": to,
            "data": data,
            "value": value,
            "gas": gas,
            "gasPrice": self.gas_price + price_bump,
            "chainId": self.chain_id,
        }

    def sign_next(self, params: dict[str, Any]) -> tuple[int, bytes, HexBytes]:
        """Sign ``params`` under the next nonce without sending: (nonce, raw bytes, hash)."""
        with self.nonces.reserve() as nonce:
            signed = self.account.sign_transaction({**params, "nonce": nonce})
        return nonce, bytes(signed.raw_transaction), HexBytes(signed.hash)

    def deploy(self, constructor: ContractConstructor, *, gas: int | None = None) -> TxReceipt:
        """Deploy a contract and wait for its receipt (``contractAddress`` holds the address)."""
        data = constructor.data_in_transaction
        if gas is None:
            try:
                gas = math.ceil(self.w3.eth.estimate_gas({"from": self.address, "data": data}) * self.gas_margin)
            except Web3Exception as err:
                raise self.errors.from_web3(err) from err
        params = {"data": data, "value": 0, "gas": gas, "gasPrice": self.gas_price, "chainId": self.chain_id}
        return self.wait(self._sign_and_send(params))

    def _sign_and_send(self, params: dict[str, Any], nonce: int | None = None) -> SentTransaction:
        if nonce is not None:
            params = {**params, "nonce": nonce}
            signed = self.account.sign_transaction(params)
            return SentTransaction(self.w3.eth.send_raw_transaction(signed.raw_transaction), nonce, params)
        try:
            return self._send_next(params)
        except Web3RPCError as err:
            # Another process sent from this account meanwhile; the failed reservation made
            # the nonce manager re-read the account, so one retry takes the next free nonce.
            if "nonce too low" not in str(err):
                raise
            return self._send_next(params)

    def _send_next(self, params: dict[str, Any]) -> SentTransaction:
        with self.nonces.reserve() as reserved:
            params = {**params, "nonce": reserved}
            signed = self.account.sign_transaction(params)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return SentTransaction(tx_hash, reserved, params)

    def replace(self, sent: SentTransaction, *, bump: float = 1.125) -> SentTransaction:
        """Resend a stuck transaction with the same nonce and a higher gas price."""
        price = int(sent.params["gasPrice"])
        new_price = max(math.ceil(price * bump), price + 1)
        return self._sign_and_send({**sent.params, "gasPrice": new_price}, nonce=sent.nonce)

    def wait(self, sent: SentTransaction | HexBytes, confirmations: int | None = None) -> TxReceipt:
        """The receipt once mined and ``confirmations`` blocks deep; raise if it reverted.

        Under a reorg the receipt may move to another block or vanish for a while: it is read
        again once deep enough, and only a receipt still in the canonical chain is returned.
        """
        tx_hash = sent.tx_hash if isinstance(sent, SentTransaction) else HexBytes(sent)
        depth = self.confirmations if confirmations is None else confirmations

        def mined() -> TxReceipt | None:
            receipt = self._receipt(tx_hash)
            return receipt if receipt is not None and self._deep_enough(receipt, depth) else None

        receipt = wait_for(mined, timeout=self.timeout, what=f"a receipt for {tx_hash.to_0x_hex()}",
                           interval=self.poll_interval,
                           timed_out=lambda: TransactionTimeout(tx_hash.to_0x_hex(), self.timeout))
        if receipt["status"] != 1:
            raise self.revert_reason(tx_hash, receipt["blockNumber"])
        return receipt

    def transact(self, call: ContractFunction | Call, *, gas: int | None = None, value: int = 0) -> TxReceipt:
        """Send ``call`` and wait for its receipt."""
        return self.wait(self.send(call, gas=gas, value=value))

    def _receipt(self, tx_hash: HexBytes) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def _deep_enough(self, receipt: TxReceipt, depth: int) -> bool:
        if depth <= 1:
            return True
        head = self.w3.eth.block_number
        if head - receipt["blockNumber"] + 1 < depth:
            return False
        canonical = self.w3.eth.get_block(receipt["blockNumber"])["hash"]
        return bool(canonical == receipt["blockHash"])

    def revert_reason(self, tx_hash: HexBytes, block_number: int) -> Exception:
        """The decoded error of a transaction that reverted in ``block_number``, by replaying it
        on the state just before that block."""
        tx = self.w3.eth.get_transaction(tx_hash)
        replay: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(replay, block_number - 1)
        except Web3Exception as err:
            return self.errors.from_web3(err, tx_hash.to_0x_hex())
        return TransactionReverted(tx_hash.to_0x_hex(), "out of gas or reverted only in its block")
