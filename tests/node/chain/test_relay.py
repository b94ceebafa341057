"""The relay's checks on real signed transactions against anvil: each refusal names what is wrong,
and a transaction that passes them is sent with the consumer's own signature."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction

from ledger.deploy import Ledger
from node.errors import Conflict, InvalidInput, NotFound, NotPermitted
from node.chain.relay import relay, relayed
from tests.utils.ledgers import Suite

GAS = 300_000
UNKNOWN_GRANT = b"\x42" * 32


@pytest.fixture(scope="module")
def node(suite: Suite) -> Ledger:
    """The first department's ledger: the node that relays."""
    return suite.departments[0]


@pytest.fixture(scope="module")
def consumer(suite: Suite) -> LocalAccount:
    account: LocalAccount = suite.consumers[0].sender.account  # type: ignore[union-attr]
    return account


@pytest.fixture(scope="module")
def other(suite: Suite) -> LocalAccount:
    account: LocalAccount = suite.consumers[1].sender.account  # type: ignore[union-attr]
    return account


def signed(node: Ledger, account: LocalAccount, call: ContractFunction, **overrides: Any) -> str:
    """``call`` signed by ``account`` as the relay expects it (next nonce, this chain), bar ``overrides``
    (a None override drops that field)."""
    tx: Any = {"chainId": node.manifest.chain_id, "gas": GAS, "gasPrice": node.w3.eth.gas_price, "value": 0,
          "nonce": node.w3.eth.get_transaction_count(account.address, "pending"), **overrides}
    tx = {name: value for name, value in tx.items() if value is not None}  # None drops a field
    built: Any = call.build_transaction(tx)
    return Web3.to_hex(account.sign_transaction(built).raw_transaction)


def withdraw(node: Ledger) -> ContractFunction:
    """A consumer call: open to relaying (it reverts on chain, the grant being unknown)."""
    return node.grants.contract.functions.withdraw(UNKNOWN_GRANT)


def test_a_consumers_own_call_is_relayed_and_followed_to_its_outcome(node: Ledger, consumer: LocalAccount) -> None:
    sent = relay(node, signed(node, consumer, withdraw(node)), caller=consumer.address)
    assert (sent.function, sent.status) == ("withdraw", "pending")
    receipt = node.w3.eth.wait_for_transaction_receipt(HexBytes(sent.tx_hash), timeout=30)
    assert receipt["from"] == consumer.address  # the consumer's signature, not the node's
    outcome = relayed(node, sent.tx_hash, caller=consumer.address)
    assert (outcome.status, outcome.function, outcome.block_number) == ("reverted", "withdraw",
                                                                        receipt["blockNumber"])
    assert outcome.error == "GrantsUnknownGrant"


def test_only_its_signer_may_follow_a_relayed_transaction(node: Ledger, consumer: LocalAccount,
                                                          other: LocalAccount) -> None:
    sent = relay(node, signed(node, consumer, withdraw(node)), caller=consumer.address)
    with pytest.raises(NotPermitted, match="another account signed it"):
        relayed(node, sent.tx_hash, caller=other.address)
    with pytest.raises(NotFound):
        relayed(node, "0x" + "00" * 32, caller=consumer.address)


def test_a_transaction_signed_by_someone_else_than_the_caller_is_refused(node: Ledger, consumer: LocalAccount,
                                                                        other: LocalAccount) -> None:
    with pytest.raises(NotPermitted, match=f"signed by {other.address}") as refused:
        relay(node, signed(node, other, withdraw(node)), caller=consumer.address)
    assert refused.value.who == consumer.address


def test_a_contract_not_open_to_consumers_is_refused(node: Ledger, consumer: LocalAccount) -> None:
    call = node.consortium.contract.functions.registerConsumer(consumer.address, b"\x00" * 32)
    with pytest.raises(NotPermitted, match="does not call a contract open to consumers"):
        relay(node, signed(node, consumer, call), caller=consumer.address)


def test_a_plain_transfer_to_an_account_is_refused(node: Ledger, consumer: LocalAccount, other: LocalAccount) -> None:
    tx: Any = {"to": other.address, "value": 1, "gas": 21_000, "gasPrice": node.w3.eth.gas_price,
          "chainId": node.manifest.chain_id, "nonce": node.w3.eth.get_transaction_count(consumer.address, "pending")}
    with pytest.raises(NotPermitted, match="does not call a contract open to consumers"):
        relay(node, Web3.to_hex(consumer.sign_transaction(tx).raw_transaction), caller=consumer.address)


def test_a_function_not_open_to_consumers_is_refused(node: Ledger, consumer: LocalAccount) -> None:
    call = node.grants.contract.functions.revoke(UNKNOWN_GRANT, b"\x00" * 32)
    with pytest.raises(NotPermitted, match=r"AccessGrants\.revoke: it is not open to consumers"):
        relay(node, signed(node, consumer, call), caller=consumer.address)


@pytest.mark.parametrize("fees", ["legacy", "eip1559"])
def test_a_transaction_for_another_chain_is_refused(node: Ledger, consumer: LocalAccount, fees: str) -> None:
    # A legacy transaction carries its chain id in v (EIP-155), a typed one in a field: both are checked.
    wrong = node.manifest.chain_id + 1
    pricing: dict[str, Any] = {} if fees == "legacy" else {
        "gasPrice": None, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    tx = signed(node, consumer, withdraw(node), chainId=wrong, **pricing)
    with pytest.raises(InvalidInput, match=f"is for chain {wrong}, this is chain {node.manifest.chain_id}") as bad:
        relay(node, tx, caller=consumer.address)
    assert bad.value.field == "raw_transaction"


def test_a_transaction_that_names_no_chain_is_refused(node: Ledger, consumer: LocalAccount) -> None:
    params: Any = {"gas": GAS, "gasPrice": node.w3.eth.gas_price, "value": 0, "chainId": 1,
                   "nonce": node.w3.eth.get_transaction_count(consumer.address, "pending")}
    call: Any = withdraw(node).build_transaction(params)
    del call["chainId"]  # signed without EIP-155: valid on every chain
    raw = Web3.to_hex(consumer.sign_transaction(call).raw_transaction)
    with pytest.raises(InvalidInput, match="names no chain"):
        relay(node, raw, caller=consumer.address)


@pytest.mark.parametrize("step", [1, -1], ids=["future", "spent"])
def test_a_nonce_that_is_not_the_senders_next_is_refused(node: Ledger, consumer: LocalAccount, step: int) -> None:
    # The spent case needs one mined transaction; the accepted-relay test above leaves several.
    following = node.w3.eth.get_transaction_count(consumer.address, "pending")
    assert following > 0
    with pytest.raises(Conflict, match=f"nonce {following + step}; the sender's next is {following}"):
        relay(node, signed(node, consumer, withdraw(node), nonce=following + step), caller=consumer.address)
    assert node.w3.eth.get_transaction_count(consumer.address, "pending") == following  # nothing was sent


@pytest.mark.parametrize("raw, reason", [("0xzz", "not hex"), ("0x", "is empty"),
                                         ("0x" + "01" * 40, "not a signed transaction")])
def test_bytes_that_are_no_signed_transaction_are_refused(node: Ledger, consumer: LocalAccount, raw: str,
                                                          reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        relay(node, raw, caller=consumer.address)
