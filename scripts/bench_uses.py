"""Uses recorded and grant-checked on a local anvil: ``recordUses`` batches of the node's batch
size (:data:`node.access.uses.BATCH_SIZE`) encoded by the usage client and sent pipelined,
against one ``recordUse`` transaction per use awaited each; and the gas each use costs both ways."""

from __future__ import annotations

import hashlib

from eth_account import Account

from ledger import ids
from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action, Rights, Use
from ledger.compile import PROJECT_ROOT, compile_contracts
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.tx import SentTransaction, TransactionSender
from node.access.uses import BATCH_SIZE
from node.chain.writes import WRITES
from scripts.bench_figures import Figure, timed


def suite(chain: LocalChain) -> tuple[Ledger, Ledger, Ledger]:
    """A deployed suite on ``chain``: the coordinator, one department, one consumer."""
    artifacts = compile_contracts()
    senders = [TransactionSender(chain.web3(), Account.from_key(k), poll_interval=0.002) for k in chain.private_keys[:3]]
    coordinator, department, consumer = senders
    manifest = deploy_suite(coordinator, artifacts, founders=[FoundingDepartment(
        department_id("bench"), "Bench", department.address, department.address)])
    ledgers = [Ledger(s.w3, manifest, artifacts, s) for s in senders]
    ledgers[1].consortium.register_consumer(consumer.address)
    return ledgers[0], ledgers[1], ledgers[2]


def _receipts(ledger: Ledger, sent: list[SentTransaction]) -> list[dict[str, object]]:
    """Every receipt of ``sent`` in one JSON-RPC batch, once the last one is mined (anvil mines
    an account's transactions in nonce order)."""
    assert ledger.sender is not None
    ledger.sender.wait(sent[-1])
    replies = ledger.rpc.call([("eth_getTransactionReceipt", [s.tx_hash.to_0x_hex()]) for s in sent])
    receipts = [r.result for r in replies]
    assert all(isinstance(r, dict) and int(r["status"], 16) == 1 for r in receipts), "a batch of uses reverted"
    return receipts


def bench_uses(batched_uses: int, single_uses: int) -> list[Figure]:
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=3) as chain:
        _, owner, consumer = suite(chain)
        dataset = hashlib.sha256(b"bench dataset").digest()
        owner.registry.register_dataset(dataset, metadata="{}", category=b"\x02" * 32, grade=1,
                                        update_interval=0, rights=Rights(department_id("bench")))
        dataset = ids.dataset_id(department_id("bench"), dataset)
        key = hashlib.sha256(b"bench grant").digest()
        consumer.grants.request_access(key, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x00" * 32,
                                       fields=[], actions=Action.mask(Action.DOWNLOAD), duration=10**8,
                                       max_uses=batched_uses + single_uses + 1)
        assert consumer.sender is not None
        grant = ids.grant_id(consumer.sender.address, key)
        owner.grants.approve(grant)

        def use(i: int) -> Use:
            return Use(grant, Action.DOWNLOAD, hashlib.sha256(i.to_bytes(8, "big")).digest())

        single_gas: list[int] = []

        def one_by_one() -> None:
            for i in range(single_uses):
                single_gas.append(owner.usage.record_use(hashlib.sha256(b"u%d" % i).digest(), use(i))["gasUsed"])

        single_time, _ = timed(one_by_one)
        sender = owner.sender
        assert sender is not None
        batches = [[use(single_uses + start + i) for i in range(min(BATCH_SIZE, batched_uses - start))]
                   for start in range(0, batched_uses, BATCH_SIZE)]
        # The gas the outbox gives a batch of this size, so that the figure runs what the node sends.
        gas = WRITES["record_uses"].gas({"uses": batches[0]})

        def batched() -> list[int]:
            sent = [owner.usage.submit_uses(hashlib.sha256(b"b%d" % b).digest(), uses, gas=gas)
                    for b, uses in enumerate(batches)]
            return [int(str(r["gasUsed"]), 16) for r in _receipts(owner, sent)]

        batch_time, batch_gas = timed(batched)
        assert owner.usage.uses_of(grant) == single_uses + batched_uses
    assert isinstance(batch_gas, list)
    raw = {"batch_size": BATCH_SIZE, "batches": len(batches), "gas_per_batch": gas}
    return [
        Figure("uses recorded and grant-checked per second, local chain", batched_uses / batch_time, "uses/s",
               single_uses / single_time, "one transaction per use", ">= 5,000", raw=raw),
        Figure(f"gas per use, recordUses batches of {BATCH_SIZE}", sum(batch_gas) / batched_uses, "gas",
               sum(single_gas) / single_uses, "one transaction per use", "<= 8,000"),
    ]
