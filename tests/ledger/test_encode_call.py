"""Calldata encoded by eth-abi alone (:meth:`ContractClient.encode_call`, what the outbox sends
uses with) is byte for byte what web3's contract functions encode."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from web3 import Web3

from ledger.clients import Action, Rights, Use
from ledger.compile import ContractArtifact
from ledger.contracts import AnchorRegistryClient, DataRegistryClient, UsageLogClient
from ledger.tx import Call
from node.chain.writes import WRITES
from tests.utils.ledgers import Suite

ADDRESS = "0x" + "ab" * 20


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def web3_data(client: Any, function: str, *args: Any) -> bytes:
    return bytes.fromhex(client.contract.get_function_by_name(function)(*args)._encode_transaction_data()[2:])


@pytest.fixture(scope="module")
def usage(artifacts: dict[str, ContractArtifact]) -> UsageLogClient:
    return UsageLogClient(Web3(), ADDRESS, artifacts["UsageLog"].abi)


@pytest.mark.parametrize("count", [1, 7, 500])
def test_a_batch_of_uses_encodes_as_web3_encodes_it(usage: UsageLogClient, count: int) -> None:
    # Runs of several grants, every action: the shapes the contract checks a grant per run of.
    uses = [Use(h(f"grant {i // 3}"), Action(i % len(Action)), h(f"evidence {i}")) for i in range(count)]
    call = usage.record_uses_call(h("batch"), uses)
    assert call.to == usage.address
    assert call.data == web3_data(usage, "recordUses", h("batch"), [u.as_tuple() for u in uses])


def test_other_shapes_encode_as_web3_encodes_them(artifacts: dict[str, ContractArtifact]) -> None:
    registry = DataRegistryClient(Web3(), ADDRESS, artifacts["DataRegistry"].abi)
    anchors = AnchorRegistryClient(Web3(), ADDRESS, artifacts["AnchorRegistry"].abi)
    terms = ("{\"名\": \"人口\"}", h("category"), 2, 86_400, Rights(h("owner"), (h("a"), h("b"))).as_tuple(), [h("parent")])
    assert registry.encode_call("registerDataset", h("code"), terms).data == web3_data(
        registry, "registerDataset", h("code"), terms)
    assert anchors.encode_call("anchor", h("root"), 1_000_000, 3).data == web3_data(anchors, "anchor", h("root"), 1_000_000, 3)


def test_arguments_that_do_not_fit_the_abi_are_a_value_error(usage: UsageLogClient) -> None:
    # The outbox fails such a payload alone ("cannot build the transaction"), as it does web3's errors.
    with pytest.raises(ValueError, match="recordUses"):
        usage.encode_call("recordUses", h("batch"), [(h("grant"), 256, h("evidence"))])


def test_the_outbox_sends_record_uses_as_web3_would_build_it(suite: Suite) -> None:
    ledger = suite.departments[0]
    payload = {"batch_id": "0x" + h("batch").hex(),
               "uses": [{"grant_id": "0x" + h(f"g{i % 2}").hex(), "action": 8, "evidence_hash": "0x" + h(str(i)).hex()}
                        for i in range(20)]}
    kind = WRITES["record_uses"]
    sent = kind.transaction(ledger, payload)
    assert isinstance(sent, Call) and sent.to == ledger.usage.address
    assert sent.data == bytes.fromhex(kind.call(ledger, payload)._encode_transaction_data()[2:])
