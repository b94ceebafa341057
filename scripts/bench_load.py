"""``python -m scripts.bench_load``: many concurrent clients GETting one path of a running API
for a while, in a process of their own so that they do not share the server's interpreter.

The bearer token comes in the ``BENCH_TOKEN`` environment variable; prints JSON: requests,
failures (any status but 200), seconds, and every request's latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx


async def _client(http: httpx.AsyncClient, path: str, deadline: float, latencies: list[float],
                  statuses: dict[int, int]) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        response = await http.get(path)
        await response.aread()
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1


async def load(url: str, path: str, token: str, clients: int, seconds: float, warmup: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60, trust_env=False) as http:
        if warmup > 0:
            deadline = time.perf_counter() + warmup
            await asyncio.gather(*(_client(http, path, deadline, [], {}) for _ in range(clients)))
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(http, path, deadline, latencies, statuses) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    failures = sum(count for status, count in statuses.items() if status != 200)
    return {"requests": len(latencies), "failures": failures, "statuses": statuses, "seconds": elapsed,
            "latencies_ms": latencies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_load", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    token = os.environ.get("BENCH_TOKEN", "")
    result = asyncio.run(load(args.url, args.path, token, args.clients, args.seconds, args.warmup))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
