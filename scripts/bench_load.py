"""Many concurrent clients GETting one path of a running API for a while: ``hey``
(github.com/rakyll/hey, Go), in a process of its own, built once from the Go module proxy into
``build/hey`` (``make bench`` builds it; :func:`ensure_hey`).

A compiled load generator, since the server is what is measured: 32 httpx clients in one Python
process topped out near 350 requests/s against a bare ASGI app that ``hey`` drives at ~5,000 on
the same machine, so every API figure was the client's. ``hey -o csv`` gives each request's
latency and status, from which :func:`run_load` returns requests, failures, statuses, seconds
and every latency in milliseconds.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ledger.compile import PROJECT_ROOT

HEY_PACKAGE = "github.com/rakyll/hey@v0.1.4"
HEY_DIR = PROJECT_ROOT / "build" / "hey"


def ensure_hey(cache_dir: Path = HEY_DIR, timeout: float = 600) -> Path:
    """``hey`` at ``cache_dir/hey``: the cached binary, else built with ``go install``."""
    binary = cache_dir / "hey"
    if binary.is_file():
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
        if go is None:
            raise SystemExit("bench: no Go toolchain on PATH to build the load generator (hey)")
        out = subprocess.run([go, "install", HEY_PACKAGE], capture_output=True, text=True, timeout=timeout,
                             env=os.environ | {"GOBIN": str(cache_dir.resolve())})
        if out.returncode != 0 or not binary.is_file():
            raise SystemExit(f"bench: go install {HEY_PACKAGE} failed: {out.stderr.strip()[-2000:]}")
    return binary


def _hey(url: str, token: str, clients: int, seconds: float) -> list[dict[str, str]]:
    out = subprocess.run(
        [str(ensure_hey()), "-z", f"{seconds:g}s", "-c", str(clients), "-t", "60", "-o", "csv",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"hey failed on {url}: {out.stderr.strip()[-500:]}")
    return list(csv.DictReader(io.StringIO(out.stdout)))


def run_load(url: str, path: str, token: str, clients: int, seconds: float, warmup: float = 1.0) -> dict[str, Any]:
    """``clients`` keep-alive connections GETting ``url + path`` for ``seconds`` (after ``warmup``
    seconds not counted); a request answered with anything but 200 is a failure."""
    if warmup > 0:
        _hey(url + path, token, clients, warmup)
    rows = _hey(url + path, token, clients, seconds)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    ended = 0.0
    for row in rows:
        status = int(row["status-code"])
        statuses[status] = statuses.get(status, 0) + 1
        latency = float(row["response-time"])
        latencies.append(latency * 1000)
        ended = max(ended, float(row["offset"]) + latency)
    failures = sum(count for status, count in statuses.items() if status != 200)
    return {"requests": len(latencies), "failures": failures, "statuses": statuses, "seconds": ended or seconds,
            "latencies_ms": latencies}
