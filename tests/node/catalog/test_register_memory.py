"""Registering a large file streams it: memory stays flat whatever the file's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledger.compile import PROJECT_ROOT

SIZE = 256 << 20

PROBE = r"""
import json, sys
from pathlib import Path
from node.db import make_engine, migrate, session_factory
from node.catalog.register import register_dataset, register_version
def hwm():  # peak RSS in KiB of this process image (ru_maxrss would include the parent before exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
engine = make_engine(sys.argv[2]); migrate(engine); sessions = session_factory(engine)
before = hwm()
with sessions() as session:
    d = register_dataset(session, department="stats-bureau", code="big", name="Big", category="logs", grade=1, update_interval=0)
    v = register_version(session, dataset_id=d.dataset_id, path=Path(sys.argv[1]))
    session.commit()
    print(json.dumps({"before_kib": before, "peak_kib": hwm(),
                      "records": v.record_count, "size": v.size_bytes}))
"""


def test_registering_a_large_file_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = b"2026-11-27T00:00:00Z,stats-bureau,110101199003071234,13800138000,record payload\n"
    per_block = (1 << 20) // len(line)
    records = 0
    with open(path, "wb") as f:
        f.write(b"when,who,id_number,phone,payload\n")
        while f.tell() < SIZE:
            f.write(line * per_block)
            records += per_block
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), f"sqlite:///{tmp_path}/node.db"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, env={**os.environ},
    )
    figures = json.loads(out.stdout)
    grew_mib = (figures["peak_kib"] - figures["before_kib"]) / 1024
    print(f"registered {figures['size'] >> 20} MiB: peak RSS {figures['peak_kib'] / 1024:.0f} MiB, grew {grew_mib:.1f} MiB")
    assert figures["size"] == path.stat().st_size
    assert figures["records"] == records
    assert grew_mib < 48, f"memory grew by {grew_mib:.0f} MiB while hashing {SIZE >> 20} MiB"
