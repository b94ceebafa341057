"""`make bench`: provledger's figures, each beside a baseline run in the same process.

Prints a table and writes bench/results.json with the machine's core count and CPU model.
Benchmarks are not tests: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from eth_account import Account

from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action, AnchorKind, Rights, Use
from ledger.compile import PROJECT_ROOT, compile_contracts
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.hashing import content_root
from ledger.merkle import MerkleTree, unfold, verify_inclusion
from ledger.tx import TransactionSender


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float
    baseline_name: str
    target: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def hashlib_tree(items: list[bytes]) -> bytes:
    """The baseline: the same leaf and node hashes in the plainest hashlib loop."""
    sha256 = hashlib.sha256
    level = [sha256(b"\x00" + item).digest() for item in items]
    while len(level) > 1:
        parents = [
            sha256(b"\x01" + a + b if a < b else b"\x01" + b + a).digest() for a, b in zip(level[0::2], level[1::2])
        ]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def bench_anchoring(leaves: int) -> list[Figure]:
    items = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(leaves)]
    baseline, expected_root = _timed(lambda: hashlib_tree(items))
    build, tree = _timed(lambda: MerkleTree.from_items(items))
    assert isinstance(tree, MerkleTree) and tree.root == expected_root
    proving, paths = _timed(tree.all_proofs)
    assert isinstance(paths, list) and len(paths) == leaves
    for index in random.Random(7).sample(range(leaves), 200):
        verify_inclusion(tree.root, items[index], unfold(paths[index]))

    with LocalChain(find_anvil(PROJECT_ROOT), accounts=3) as chain:
        _, ledger, _ = _suite(chain)
        anchoring, _ = _timed(lambda: ledger.anchors.anchor(tree.root, leaves, AnchorKind.DELIVERY_RECEIPTS))
        onchain_ok = ledger.anchors.verify_inclusion(tree.root, items[leaves // 3], unfold(paths[leaves // 3]))
        assert onchain_ok
    total = build + proving + anchoring
    return [
        Figure(f"{leaves:,} hashes: tree", build, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes: every proof", proving, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes: one anchoring transaction", anchoring, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes anchored: tree + every proof + tx", total, "s", baseline,
               "hashlib alone, same tree", "<= 2x"),
    ]


def bench_file_verification(size: int) -> list[Figure]:
    """Hashing a file back to its content root against `sha256sum` over the same bytes; and the
    peak memory of registering it, which must not grow with the file."""
    path = PROJECT_ROOT / "bench" / "verify-file.tmp"
    path.parent.mkdir(exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
    try:
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)  # warm the page cache
        baseline, _ = _timed(lambda: subprocess.run(["sha256sum", str(path)], check=True, capture_output=True))
        ours, content = _timed(lambda: content_root(path))
        probe = subprocess.run([sys.executable, "-c", _REGISTER_PROBE, str(path)], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True)
        peak = json.loads(probe.stdout)
    finally:
        path.unlink()
    mib = size / (1 << 20)
    return [
        Figure(f"verify a {mib / 1024:.0f} GiB file against its root, MB/s", mib / ours, "MB/s", mib / baseline,
               "sha256sum on the same file", ">= 80%"),
        Figure(f"register a {mib / 1024:.0f} GiB file: peak RSS", peak["peak_mib"], "MiB", peak["before_mib"],
               "RSS before registering", "flat"),
    ]


_REGISTER_PROBE = r"""
import json, sys, tempfile
from pathlib import Path
from node.db import make_engine, migrate, session_factory
from node.register import register_dataset, register_version
def hwm():  # peak RSS in KiB of this process image (ru_maxrss would include the parent before exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{tmp}/node.db"); migrate(engine); sessions = session_factory(engine)
    before = hwm()
    with sessions() as session:
        d = register_dataset(session, department="bench", code="big", name="Big", category="raw", grade=1, update_interval=0)
        register_version(session, dataset_id=d.dataset_id, path=Path(sys.argv[1]))
        session.commit()
    print(json.dumps({"before_mib": before / 1024, "peak_mib": hwm() / 1024}))
"""


def _suite(chain: LocalChain) -> tuple[Ledger, Ledger, Ledger]:
    """A deployed suite on ``chain``: the coordinator, one department, one consumer."""
    artifacts = compile_contracts()
    senders = [TransactionSender(chain.web3(), Account.from_key(k), poll_interval=0.002) for k in chain.private_keys[:3]]
    coordinator, department, consumer = senders
    manifest = deploy_suite(coordinator, artifacts, founders=[FoundingDepartment(
        department_id("bench"), "Bench", department.address, department.address)])
    ledgers = [Ledger(s.w3, manifest, artifacts, s) for s in senders]
    ledgers[1].consortium.register_consumer(consumer.address)
    return ledgers[0], ledgers[1], ledgers[2]


def bench_uses(batched_uses: int, single_uses: int) -> list[Figure]:
    """Uses recorded and grant-checked on-chain per second: batches of 100, pipelined, against
    one transaction per use; and the gas each use costs both ways."""
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=3) as chain:
        _, owner, consumer = _suite(chain)
        dataset = hashlib.sha256(b"bench dataset").digest()
        owner.registry.register_dataset(dataset, metadata_hash=b"\x01" * 32, category=b"\x02" * 32, grade=1,
                                        update_interval=0, rights=Rights(department_id("bench")))
        grant = hashlib.sha256(b"bench grant").digest()
        consumer.grants.request_access(grant, dataset_id=dataset, purpose_hash=b"\x03" * 32, field_scope=1,
                                       actions=Action.mask(Action.DOWNLOAD), duration=10**8,
                                       max_uses=batched_uses + single_uses + 1)
        owner.grants.approve(grant)
        use = lambda i: Use(grant, Action.DOWNLOAD, hashlib.sha256(i.to_bytes(8, "big")).digest())  # noqa: E731
        single_gas: list[int] = []

        def one_by_one() -> None:
            for i in range(single_uses):
                single_gas.append(owner.usage.record_use(hashlib.sha256(b"u%d" % i).digest(), use(i))["gasUsed"])

        single_time, _ = _timed(one_by_one)
        sender = owner.sender
        assert sender is not None

        def batched() -> list[int]:
            sent = [
                owner.usage.submit_uses(hashlib.sha256(b"b%d" % b).digest(),
                                        [use(single_uses + b * 100 + i) for i in range(100)], gas=1_500_000)
                for b in range(batched_uses // 100)
            ]
            return [int(sender.wait(s)["gasUsed"]) for s in sent]

        batch_time, batch_gas = _timed(batched)
        assert owner.usage.uses_of(grant) == single_uses + batched_uses
    assert isinstance(batch_gas, list)
    return [
        Figure("uses recorded and grant-checked per second, local chain", batched_uses / batch_time, "uses/s",
               single_uses / single_time, "one transaction per use", ">= 2,000"),
        Figure("gas per use, recordUses batches of 100", sum(batch_gas) / batched_uses, "gas",
               sum(single_gas) / single_uses, "one transaction per use", "<= 8,000"),
    ]


def machine() -> dict[str, object]:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(), "system": platform.platform()}


def print_table(figures: list[Figure]) -> None:
    width = max(len(f.name) for f in figures)
    print(f"{'figure'.ljust(width)}  {'value':>16}  {'baseline':>16}  {'ratio':>7}  target")
    for f in figures:
        print(f"{f.name.ljust(width)}  {f.value:>10.3f} {f.unit:<5} {f.baseline:>10.3f} {f.unit:<5} {f.ratio:>6.2f}x  {f.target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--file-size", type=int, default=1 << 30)
    parser.add_argument("--uses", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    figures = bench_uses(args.uses, 300) + bench_anchoring(args.leaves) + bench_file_verification(args.file_size)
    print_table(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }, indent=2))
    print(f"\nwritten {args.out.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
