"""`make bench`: provledger's figures, each beside a baseline run in the same process.

Prints the table as markdown and writes bench/results.json with the machine's core count and
CPU model, the load while each part ran, and the raw numbers. ``--only NAME`` runs one part
(repeatable). Benchmarks are not tests: nothing here asserts on time.

    uses        uses recorded per second and gas per use, local anvil
    consortium  uses a second sustained on 3 geth Clique nodes through the owner's node, index lag,
                over-quota alert latency (scripts.bench_consortium)
    latency     a delivery's 201 to its use in the owner's usage stream, idle and under load
                (scripts.bench_latency)
    anchoring   1,000,000 hashes: tree, every proof, one transaction
    file        verifying and registering a 1 GiB file
    trace       first page of a 100,000-use dataset's trace (scripts.bench_trace)
    prov        that trace exported whole as PROV-JSON
    indexer     the indexer catching up on those 100,000 events
    api         trace reads under 32 clients (scripts.bench_api)
    idle        CPU of an idle 3-department deployment over 60 s (scripts.bench_idle)
    query       privacy-checked aggregate queries on 1,000,000 rows beside bare DuckDB (scripts.bench_query)

The last four share one chain of 100,000 uses and the node that indexed it: ``trace``,
``prov`` and ``api`` run the indexer first (its figure is kept only when asked for).
Each figure's target is also a goal the table says is met or missed (``Figure.met``);
``python -m scripts.bench_figures --readme`` writes the README's table from the results file.
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
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger import ids
from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action, AnchorKind, Rights, Use
from ledger.compile import PROJECT_ROOT, compile_contracts
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.hashing import content_root
from ledger.merkle import MerkleTree, unfold, verify_inclusion
from ledger.tx import TransactionSender
from scripts.bench_api import bench_api
from scripts.bench_consortium import bench_consortium
from scripts.bench_figures import Figure, load_average, markdown_table, targets_met, timed
from scripts.bench_idle import bench_idle
from scripts.bench_latency import bench_latency
from scripts.bench_profile import Profiler
from scripts.bench_query import bench_query
from scripts.bench_store import bench_store
from scripts.bench_trace import bench_indexer, bench_prov, bench_trace, trace_chain
from scripts.bench_uses import bench_uses, suite as _suite

PARTS = ("uses", "consortium", "latency", "anchoring", "file", "store", "trace", "prov", "indexer", "api", "idle",
         "query")
ON_TRACE_CHAIN = ("trace", "prov", "indexer", "api")


# ---------------------------------------------------------------- anchoring


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
    baseline, expected_root = timed(lambda: hashlib_tree(items))
    build, tree = timed(lambda: MerkleTree.from_items(items))
    assert isinstance(tree, MerkleTree) and tree.root == expected_root
    proving, paths = timed(tree.all_proofs)
    assert isinstance(paths, list) and len(paths) == leaves
    for index in random.Random(7).sample(range(leaves), 200):
        verify_inclusion(tree.root, items[index], unfold(paths[index]))

    with LocalChain(find_anvil(PROJECT_ROOT), accounts=3) as chain:
        _, ledger, _ = _suite(chain)
        anchoring, _ = timed(lambda: ledger.anchors.anchor(tree.root, leaves, AnchorKind.DELIVERY_RECEIPTS))
        onchain_ok = ledger.anchors.verify_inclusion(department_id("bench"), tree.root, items[leaves // 3], unfold(paths[leaves // 3]))
        assert onchain_ok
    total = build + proving + anchoring
    return [
        Figure(f"{leaves:,} hashes: tree", build, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes: every proof", proving, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes: one anchoring transaction", anchoring, "s", baseline, "hashlib alone, same tree", ""),
        Figure(f"{leaves:,} hashes anchored: tree + every proof + tx", total, "s", baseline,
               "hashlib alone, same tree", "<= 2x"),
    ]


# ---------------------------------------------------------------- files


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
        baseline, _ = timed(lambda: subprocess.run(["sha256sum", str(path)], check=True, capture_output=True))
        ours, content = timed(lambda: content_root(path))
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
               "RSS before registering", "flat (<= 1.1x)"),
    ]


_REGISTER_PROBE = r"""
import json, sys, tempfile
from pathlib import Path
from node.db import make_engine, migrate, session_factory
from node.catalog.register import register_dataset, register_version
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


# ---------------------------------------------------------------- the run


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


def run_on_trace_chain(parts: list[str], args: argparse.Namespace, profiler: Profiler) -> dict[str, list[Figure]]:
    """The parts measured on the chain of ``args.trace_uses`` uses, the indexer first (it fills
    the database the others read)."""
    figures: dict[str, list[Figure]] = {}
    with trace_chain(args.trace_uses) as setup:
        figures["indexer"] = bench_indexer(setup, profiler, postgres="indexer" in parts)
        if "trace" in parts:
            figures["trace"] = bench_trace(setup)
        if "prov" in parts:
            figures["prov"] = bench_prov(setup, profiler, library_items=args.prov_library_items)
        if "api" in parts:
            figures["api"] = bench_api(setup, clients=args.clients, seconds=args.api_seconds)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=PARTS, help="run this part only (repeatable)")
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--file-size", type=int, default=1 << 30)
    parser.add_argument("--store-size", type=int, default=1 << 30, help="bytes of the encrypted version verified")
    parser.add_argument("--uses", type=int, default=20_000, help="batched uses on the local chain")
    parser.add_argument("--consortium-seconds", type=float, default=60.0,
                        help="how long uses are fed to the consortium at --consortium-rate")
    parser.add_argument("--consortium-rate", type=int, default=5_000, help="uses a second fed to the consortium")
    parser.add_argument("--consortium-drain", type=float, default=600.0,
                        help="the most seconds to wait after the load for the index and the alerts")
    parser.add_argument("--latency-deliveries", type=int, default=30, help="deliveries timed, idle and under load")
    parser.add_argument("--latency-load", type=int, default=2_000, help="uses a second queued beside the deliveries")
    parser.add_argument("--consortium-gas-limit", type=int, default=None,
                        help="the consortium's block gas limit (default the consortium's default)")
    parser.add_argument("--consortium-singles", type=int, default=8, help="one-transaction uses on the consortium")
    parser.add_argument("--trace-uses", type=int, default=100_000, help="uses of the traced dataset")
    parser.add_argument("--prov-library-items", type=int, default=10_000,
                        help="events the prov library exports beside the direct writer")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--api-seconds", type=float, default=8.0, help="load per API route")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="how long the idle deployment is measured")
    parser.add_argument("--query-rows", type=int, default=1_000_000, help="rows of the queried table")
    parser.add_argument("--query-repeats", type=int, default=10, help="runs of each query shape, each way")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="profile the indexer and the PROV export into DIR (needs pyinstrument)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default bench/results.json on a full run; none with --only)")
    args = parser.parse_args(argv)
    parts: list[str] = args.only or list(PARTS)
    out: Path | None = args.out or (None if args.only else PROJECT_ROOT / "bench" / "results.json")
    profiler = Profiler(args.profile)

    started = time.perf_counter()
    runs: dict[str, Callable[[], dict[str, list[Figure]]]] = {
        "uses": lambda: {"uses": bench_uses(args.uses, 300)},
        "consortium": lambda: {"consortium": bench_consortium(args.consortium_seconds, args.consortium_rate,
                                                              args.consortium_singles,
                                                              drain_timeout=args.consortium_drain,
                                                              gas_limit=args.consortium_gas_limit)},
        "latency": lambda: {"latency": bench_latency(args.latency_deliveries, args.latency_load)},
        "anchoring": lambda: {"anchoring": bench_anchoring(args.leaves)},
        "file": lambda: {"file": bench_file_verification(args.file_size)},
        "store": lambda: {"store": bench_store(args.store_size)},
        "idle": lambda: {"idle": bench_idle(args.idle_seconds)},
        "query": lambda: {"query": bench_query(args.query_rows, args.query_repeats)},
    }
    selected = [(name, run) for name, run in runs.items() if name in parts]
    on_chain = [p for p in parts if p in ON_TRACE_CHAIN]
    if on_chain:
        selected.append(("+".join(on_chain), lambda: run_on_trace_chain(on_chain, args, profiler)))
    figures: dict[str, list[Figure]] = {}
    load: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name, run in selected:
        before = load_average()
        print(f"bench: {name} (load average {' '.join(f'{x:.2f}' for x in before)})", flush=True)
        try:
            seconds, measured = timed(run)
        except Exception as err:  # one part failing (e.g. no geth) must not lose the others' figures
            traceback.print_exc()
            failed[name] = f"{type(err).__name__}: {err}"
            continue
        load[name] = {"before": before, "after": load_average(), "seconds": seconds}
        figures.update({part: f for part, f in measured.items() if part in parts})
    table = [f for part in PARTS for f in figures.get(part, [])]
    total = time.perf_counter() - started

    print()
    print(markdown_table(table))
    print(f"\n{len(table)} figures in {total:.0f} s, {targets_met(table)}; load average before each part: "
          + ", ".join(f"{name} {entry['before'][0]:.2f}" for name, entry in load.items() if entry["before"]))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "seconds": total,
            "profiled": profiler.enabled,
            "load_average": load,
            "failed": failed,
            "figures": [f.to_json() for f in table],
        }, indent=2))
        print(f"written {out.relative_to(PROJECT_ROOT) if out.is_relative_to(PROJECT_ROOT) else out}")
    for figure in table:
        if figure.met is False:
            print(f"missed: {figure.name}: {figure.target}", file=sys.stderr)
    for name, error in failed.items():
        print(f"FAILED: {name}: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
