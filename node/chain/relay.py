"""Relaying transactions that consumers sign with their own keys.

On a permissioned network consumers need not reach a chain node: they sign a transaction for
one of the calls open to them (asking for access, withdrawing a request, acknowledging a
statement, recording their own analysis) and the department's node relays it, after checking
it is what it says: from the caller, to that contract, on this chain, calling that function.
The node never holds a consumer's key, so the chain shows the consumer's own signature.

Relaying holds no worker until the transaction is mined: it is sent, and the consumer follows
it (:func:`relayed`). Only the sender's next nonce is taken, so that no one parks transactions
the chain will not mine for a while (a future nonce) or never (a spent one) on the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction
from eth_account._utils.signing import extract_chain_id
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from ledger.deploy import Ledger
from ledger.errors import ContractError
from node.chain import texts
from node.errors import Conflict, InvalidInput, NotFound, NotPermitted

CONSUMER_CALLS: Mapping[str, frozenset[str]] = {
    "AccessGrants": frozenset({"requestAccess", "requestQueryAccess", "withdraw"}),
    "UsageLog": frozenset({"acknowledgeStatement", "recordUse", "recordUses"}),
}
ACCOUNT_CALLS: Mapping[str, frozenset[str]] = {"Consortium": frozenset({"acceptServiceAccount"})}
"""What an account with no role yet may have relayed: accepting a department's offer of a place
among its service accounts (its own consent, signed by itself). Relayed only while the offer stands."""


@dataclass(frozen=True)
class Relayed:
    tx_hash: str
    function: str
    status: Literal["pending", "success", "reverted"]
    block_number: int | None = None
    error: str | None = None


def _decode(raw: bytes) -> tuple[str, dict[str, object]]:
    try:
        sender = Account.recover_transaction(raw)
        fields = (TypedTransaction.from_bytes(HexBytes(raw)) if raw[0] < 0x80 else Transaction.from_bytes(raw)).as_dict()
    except Exception as err:  # eth-account raises many kinds on malformed bytes
        raise InvalidInput("raw_transaction", f"not a signed transaction: {err}") from err
    if "chainId" not in fields:
        # A legacy transaction carries its chain id in v (EIP-155); without one it is valid on any chain.
        fields["chainId"], _ = extract_chain_id(fields["v"])
    return sender, fields


def _function(ledger: Ledger, to: object, data: object, *, caller: str,
              allowed: Mapping[str, frozenset[str]]) -> str:
    """The consumer call a transaction to ``to`` with ``data`` makes; refused if it is none."""
    target = Web3.to_checksum_address(to) if isinstance(to, (bytes, str)) and to else None
    names: dict[str, str] = {Web3.to_checksum_address(a): name for name, a in ledger.manifest.addresses.items()}
    contract = names.get(target or "", "")
    if contract not in allowed:
        raise NotPermitted(caller, "relay this transaction", "it does not call a contract open to consumers")
    if not isinstance(data, bytes) or len(data) < 4:
        raise InvalidInput("raw_transaction", "carries no function call")
    client = {c.contract_name: c for c in (ledger.grants, ledger.usage, ledger.consortium)}[contract]
    try:
        function: str = client.contract.get_function_by_selector(data[:4]).fn_name
    except ValueError as err:
        raise InvalidInput("raw_transaction", "calls no function of the contract") from err
    if function not in allowed[contract]:
        raise NotPermitted(caller, f"call {contract}.{function}", "it is not open to consumers")
    return function


def _check_purpose(ledger: Ledger, data: object) -> None:
    """A request's purpose goes on chain in the clear: it must be fit to (no personal number)."""
    assert isinstance(data, bytes)
    try:
        _, args = ledger.grants.contract.decode_function_input(data)
        request = args["input"]
        purpose = request["purpose"] if isinstance(request, dict) else request[1]
    except Exception as err:  # eth-abi raises many kinds on malformed call data
        raise InvalidInput("raw_transaction", f"its call data cannot be decoded: {err}") from err
    texts.checked("purpose", purpose, max_bytes=texts.MAX_PURPOSE_BYTES)


def _check_offer(ledger: Ledger, data: object, account: str) -> None:
    """An account accepts only an offer that stands: nothing else is relayed for it."""
    assert isinstance(data, bytes)
    try:
        _, args = ledger.consortium.contract.decode_function_input(data)
        department = bytes(args["departmentId"])
    except Exception as err:  # eth-abi raises many kinds on malformed call data
        raise InvalidInput("raw_transaction", f"its call data cannot be decoded: {err}") from err
    if not ledger.consortium.has_offer(department, account):
        raise NotPermitted(account, "accept a place among a department's service accounts",
                           "that department has offered it none")


def relay(ledger: Ledger, raw_hex: str, *, caller: str | None,
          allowed: Mapping[str, frozenset[str]] = CONSUMER_CALLS) -> Relayed:
    """Check ``raw_hex``, signed by ``caller`` (by whoever signed it when None: an account not
    signed in, which ``allowed`` then limits) with its next nonce, and send it; it is pending
    when this returns (follow it with :func:`relayed`)."""
    try:
        raw = bytes.fromhex(raw_hex.removeprefix("0x"))
    except ValueError as err:
        raise InvalidInput("raw_transaction", "not hex") from err
    if not raw:
        raise InvalidInput("raw_transaction", "is empty")
    sender, fields = _decode(raw)
    caller = caller or sender
    if sender != Web3.to_checksum_address(caller):
        raise NotPermitted(caller, "relay this transaction", f"it is signed by {sender}")
    chain_id = fields["chainId"]
    if chain_id is None:
        raise InvalidInput("raw_transaction", "names no chain (pre-EIP-155): it could be replayed on any chain")
    if chain_id != ledger.manifest.chain_id:
        raise InvalidInput("raw_transaction", f"is for chain {chain_id}, this is chain {ledger.manifest.chain_id}")
    function = _function(ledger, fields.get("to"), fields.get("data"), caller=caller, allowed=allowed)
    if function == "requestAccess":
        _check_purpose(ledger, fields["data"])
    if function == "acceptServiceAccount":
        _check_offer(ledger, fields["data"], sender)
    w3 = ledger.w3
    try:
        expected = w3.eth.get_transaction_count(Web3.to_checksum_address(sender), "pending")
        if fields.get("nonce") != expected:
            raise Conflict(f"the nonce of {sender}",
                           f"the transaction has nonce {fields.get('nonce')}; the sender's next is {expected}")
        tx_hash = w3.eth.send_raw_transaction(raw)
    except Web3RPCError as err:
        raise InvalidInput("raw_transaction", f"the chain refused it: {err.message}") from err
    return Relayed(HexBytes(tx_hash).to_0x_hex(), function, "pending")


def relayed(ledger: Ledger, tx_hash: str, *, caller: str | None,
            allowed: Mapping[str, frozenset[str]] = CONSUMER_CALLS) -> Relayed:
    """Where a transaction ``caller`` had relayed stands: pending, or mined with its outcome."""
    w3 = ledger.w3
    try:
        tx: Any = w3.eth.get_transaction(HexBytes(tx_hash))
    except TransactionNotFound as err:
        raise NotFound("relayed transaction", tx_hash) from err
    caller = caller or tx["from"]
    if tx["from"] != Web3.to_checksum_address(caller):
        raise NotPermitted(caller, "follow this transaction", "another account signed it")
    function = _function(ledger, tx["to"], bytes(tx["input"]), caller=caller, allowed=allowed)
    try:
        receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    except TransactionNotFound:
        return Relayed(HexBytes(tx_hash).to_0x_hex(), function, "pending")
    error = None
    if receipt["status"] != 1:
        assert ledger.sender is not None
        reason = ledger.sender.revert_reason(HexBytes(tx_hash), receipt["blockNumber"])
        error = reason.name if isinstance(reason, ContractError) else str(reason)
    return Relayed(HexBytes(tx_hash).to_0x_hex(), function, "success" if receipt["status"] == 1 else "reverted",
                   receipt["blockNumber"], error)
