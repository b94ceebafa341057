"""Transactions on a real anvil: concurrent nonces, pipelining, confirmations, replacement, reverts."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import LocalChain, find_anvil
from ledger.clients import AnchorKind
from ledger.compile import PROJECT_ROOT
from ledger.deploy import department_id
from ledger.errors import ContractError, TransactionTimeout
from ledger.tx import TransactionSender, load_keystore, write_keystore
from tests.utils.ledgers import Suite, sender


def _root(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def test_eight_threads_on_one_account_never_collide_on_a_nonce(suite: Suite) -> None:
    department = suite.departments[0]
    anchors = department.anchors

    def send_hundred(thread: int) -> list[int]:
        return [
            anchors.anchor(_root(f"thread {thread} root {i}"), 1, AnchorKind.LIFECYCLE_EVIDENCE)["status"]
            for i in range(100)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(send_hundred, range(8)) for s in batch]
    assert statuses == [1] * 800
    for thread in range(8):
        for i in (0, 99):
            assert anchors.anchor_of(department_id("stats-bureau"), _root(f"thread {thread} root {i}")).leaf_count == 1


def test_pipelined_sends_are_all_mined_in_nonce_order(suite: Suite) -> None:
    department = suite.departments[1]
    sent = [department.anchors._submit("anchor", _root(f"pipelined {i}"), 1, 0, gas=200_000) for i in range(50)]
    assert [s.nonce for s in sent] == list(range(sent[0].nonce, sent[0].nonce + 50))
    receipts = [department.sender.wait(s) for s in sent]  # type: ignore[union-attr]
    assert all(r["status"] == 1 for r in receipts)


def test_a_revert_raises_the_custom_error_with_its_arguments(suite: Suite) -> None:
    root = _root("anchored once")
    suite.departments[0].anchors.anchor(root, 3, AnchorKind.DATASET_VERSIONS)
    with pytest.raises(ContractError) as caught:
        suite.departments[0].anchors.anchor(root, 3, AnchorKind.DATASET_VERSIONS)
    assert caught.value.name == "AnchorRootExists"
    assert caught.value.arguments == {"root": root, "department": suite.departments[0].consortium.department_of(
        suite.departments[0].sender.address)}  # type: ignore[union-attr]
    assert "AnchorRootExists(root=0x" in str(caught.value)


def test_a_transaction_reverting_in_its_block_raises_the_decoded_error(suite: Suite) -> None:
    department = suite.departments[2]
    root = _root("raced")
    first = department.anchors._submit("anchor", root, 1, 0, gas=200_000)
    second = department.anchors._submit("anchor", root, 1, 0, gas=200_000)
    department.sender.wait(first)  # type: ignore[union-attr]
    with pytest.raises(ContractError) as caught:
        department.sender.wait(second)  # type: ignore[union-attr]
    assert caught.value.name == "AnchorRootExists"


def test_keystore_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    account = Account.create()
    path = write_keystore(account, tmp_path / "keys" / "dept.json", "correct horse")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keystore(path, "correct horse").address == account.address
    with pytest.raises(ValueError):
        load_keystore(path, "wrong")


@pytest.fixture()
def manual_chain() -> LocalChain:
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=2) as chain:
        chain.web3().provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        yield chain


def _transfer(sender: TransactionSender, to: str, price: int) -> dict:
    return {"to": to, "value": 1, "gas": 21_000, "gasPrice": price, "chainId": sender.chain_id, "data": b""}


def test_a_stuck_transaction_is_replaced_with_the_same_nonce(manual_chain: LocalChain) -> None:
    tx_sender = sender(manual_chain, 0)
    other = Account.from_key(manual_chain.private_keys[1]).address
    stuck = tx_sender._sign_and_send(_transfer(tx_sender, other, 1))
    replacement = tx_sender.replace(stuck)
    assert replacement.nonce == stuck.nonce and replacement.params["gasPrice"] > 1
    manual_chain.web3().provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert tx_sender.wait(replacement)["status"] == 1
    tx_sender.timeout = 0.2
    with pytest.raises(TransactionTimeout):
        tx_sender.wait(stuck)


def test_wait_returns_only_after_the_requested_confirmations(manual_chain: LocalChain) -> None:
    tx_sender = sender(manual_chain, 0)
    w3 = manual_chain.web3()
    other = Account.from_key(manual_chain.private_keys[1]).address
    sent = tx_sender._sign_and_send(_transfer(tx_sender, other, 1))
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    tx_sender.timeout = 0.3
    with pytest.raises(TransactionTimeout):
        tx_sender.wait(sent, confirmations=3)
    tx_sender.timeout = 30
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (tx_sender.wait(sent, confirmations=3), done.set()))
    waiter.start()
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert not done.wait(0.3)
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    waiter.join(timeout=10)
    assert done.is_set()
