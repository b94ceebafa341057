"""Uses recorded and grant-checked on the 3-department consortium: one geth per department
sealing Clique blocks every second (``node.consortium.up`` in a temporary folder, always
brought down). The first department owns a dataset, the second holds a grant on it, and the
first records uses through its own geth the way the local-chain figure does: ``recordUses``
batches of 100 sent pipelined, against one ``recordUse`` transaction per use."""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from web3 import Web3

from ledger import ids
from ledger.clients import Action, Rights, Use
from ledger.compile import ContractArtifact
from ledger.deploy import Ledger, Manifest, department_id
from ledger.geth import clique_web3
from ledger.tx import TransactionSender, load_keystore
from ledger.waiting import wait_for
from node.service import load_artifacts
from scripts.bench_figures import Figure, timed
from node.consortium import GAS_PRICE, Consortium, up

BATCH = 100


def _ledger(consortium: Consortium, code: str, manifest: Manifest, artifacts: dict[str, ContractArtifact]) -> Ledger:
    """The deployment as the department's service account, sending through its own geth; a
    receipt counts once mined (one block deep), as in the local-chain figure."""
    folder = consortium.directory / code
    account = load_keystore(folder / "keys" / "service.json", (folder / "passphrase").read_text().strip())
    sender = TransactionSender(clique_web3(consortium.nodes[code].url), account, confirmations=1, poll_interval=0.02)
    sender.gas_price = GAS_PRICE
    return Ledger(sender.w3, manifest, artifacts, sender)


def _use(grant: bytes, i: int) -> Use:
    return Use(grant, Action.DOWNLOAD, hashlib.sha256(b"consortium use %d" % i).digest())


def _reach(w3: Web3, block: int, timeout: float = 60.0) -> None:
    """Wait until the node behind ``w3`` holds ``block``: a write seen on one geth, read on another."""
    wait_for(lambda: True if w3.eth.block_number >= block else None, timeout=timeout, what=f"block {block}",
             interval=0.1, timed_out=lambda: TimeoutError(f"block {block} not reached in {timeout:.0f} s"))


def bench_consortium(batched_uses: int, single_uses: int) -> list[Figure]:
    artifacts = load_artifacts()
    with tempfile.TemporaryDirectory(prefix="provledger-bench-consortium-") as tmp:
        started, consortium = timed(lambda: up(Path(tmp), 3, artifacts=artifacts))
        try:
            manifest = Manifest.load(consortium.manifest_path)
            owner_code, grantee_code = list(consortium.members)[:2]
            owner = _ledger(consortium, owner_code, manifest, artifacts)
            grantee = _ledger(consortium, grantee_code, manifest, artifacts)
            dataset = hashlib.sha256(b"bench consortium dataset").digest()
            receipt = owner.registry.register_dataset(
                dataset, metadata="{}", category=b"\x02" * 32, grade=1, update_interval=0,
                rights=Rights(department_id(owner_code)))
            dataset = ids.dataset_id(department_id(owner_code), dataset)
            _reach(grantee.w3, receipt["blockNumber"])
            grant = hashlib.sha256(b"bench consortium grant").digest()
            receipt = grantee.grants.request_access(
                grant, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x00" * 32, fields=[],
                actions=Action.mask(Action.DOWNLOAD), duration=10**8, max_uses=batched_uses + single_uses + 1)
            assert grantee.sender is not None
            grant = ids.grant_id(grantee.sender.address, grant)
            _reach(owner.w3, receipt["blockNumber"])
            owner.grants.approve(grant)

            def one_by_one() -> list[int]:
                return [owner.usage.record_use(hashlib.sha256(b"cu%d" % i).digest(), _use(grant, i))["blockNumber"]
                        for i in range(single_uses)]

            single_time, _ = timed(one_by_one)
            sender = owner.sender
            assert sender is not None

            def batched() -> tuple[float, list[int]]:
                start = time.perf_counter()
                sent = [owner.usage.submit_uses(hashlib.sha256(b"cb%d" % b).digest(),
                                                [_use(grant, single_uses + b * BATCH + i) for i in range(BATCH)],
                                                gas=1_500_000)
                        for b in range(batched_uses // BATCH)]
                all_sent = time.perf_counter() - start
                return all_sent, [int(sender.wait(s)["blockNumber"]) for s in sent]

            batch_time, (send_time, blocks) = timed(batched)
            assert owner.usage.uses_of(grant) == single_uses + batched_uses
            first, last = min(blocks), max(blocks)
            per_block = [len([b for b in blocks if b == n]) * BATCH for n in range(first, last + 1)]
        finally:
            consortium.close()
    raw = {"up_seconds": started, "single_uses": single_uses, "single_seconds": single_time,
           "batched_uses": batched_uses, "batched_seconds": batch_time,
           "batched_send_seconds": send_time, "blocks": last - first + 1,
           "uses_per_block": per_block}
    return [Figure("uses recorded and grant-checked per second, 3-department consortium (geth Clique, 1 s blocks)",
                   batched_uses / batch_time, "uses/s", single_uses / single_time, "one transaction per use",
                   ">= 750 uses/s", raw=raw)]
