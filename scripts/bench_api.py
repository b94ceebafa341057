"""API trace reads under concurrent clients: the department's node of ``scripts.bench_trace``
served by uvicorn on 127.0.0.1, an auditor signed in with Ethereum, and 32 clients (``hey``, a
compiled load generator in a process of its own: ``scripts.bench_load``) reading the first page of
the dataset's trace, plain and verified against the chain, beside ``GET /auth/me`` (sign-in check
only), a figure of its own and the baseline of what the server does for any request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.app import create_app
from api.auth.siwe import siwe_message
from api.local import Served
from ledger.chain import free_port
from scripts.bench_figures import Figure, percentile
from scripts.bench_load import run_load
from scripts.bench_trace import PAGE, TraceChain


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1:``port`` in a thread; yields the base URL."""
    served = Served(app, port)
    served.start(30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.stop(30)


@contextmanager
def serve(setup: TraceChain) -> Iterator[str]:
    """The node's API under uvicorn on 127.0.0.1 in a thread, without its background work (the
    index is complete and the chain still); yields the base URL."""
    port = free_port()
    with serving(create_app(setup.node, domain=f"127.0.0.1:{port}", background=False), port) as url:
        yield url


async def _bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering every request with ``{}``, reading nothing: what the server and the
    clients cost on this machine, below which no route can go."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def sign_in(url: str, account: LocalAccount, chain_id: int) -> str:
    """A session token for ``account`` by Sign-In with Ethereum."""
    with httpx.Client(base_url=url, trust_env=False) as http:
        nonce = http.get("/auth/nonce").json()["nonce"]
        message = siwe_message(url.removeprefix("http://"), account.address, url, chain_id, nonce,
                               datetime.now(timezone.utc) - timedelta(seconds=5))
        signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
        response = http.post("/auth/siwe", json={"message": message, "signature": signature})
        response.raise_for_status()
        me = http.get("/auth/me", headers={"Authorization": f"Bearer {response.json()['token']}"}).json()
        assert "auditor" in me["roles"], me
        token: str = response.json()["token"]
        return token


def load(url: str, path: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """``scripts.bench_load.run_load``, where every request must succeed."""
    result = run_load(url, path, token, clients, seconds)
    if result["failures"]:
        raise RuntimeError(f"GET {path}: {result['failures']} of {result['requests']} failed: {result['statuses']}")
    return result


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    latencies = result["latencies_ms"]
    return {"requests": result["requests"], "seconds": result["seconds"],
            "per_second": result["requests"] / result["seconds"], "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "p99_ms": percentile(latencies, 99)}


def bench_api(setup: TraceChain, *, clients: int = 32, seconds: float = 10.0, verify: bool = True) -> list[Figure]:
    trace = f"/audit/datasets/{setup.dataset_id}/trace?limit={PAGE}"
    paths = {"me": "/auth/me", "trace": trace} | ({"verified": trace + "&verify=true"} if verify else {})
    with serve(setup) as url:
        token = sign_in(url, setup.auditor, setup.ledger.manifest.chain_id)
        runs = {name: _summary(load(url, path, token, clients, seconds)) for name, path in paths.items()}
    with serving(_bare, free_port()) as url:
        runs["bare"] = _summary(load(url, "/auth/me", token, clients, seconds))
    me = runs["me"]
    on = f"API, {clients} clients on 127.0.0.1"
    same = "GET /auth/me, same clients"
    figures = [Figure(f"{on}: GET /auth/me (a signed-in request reading nothing), requests/s", me["per_second"],
                      "req/s", runs["bare"]["per_second"], "a bare ASGI app answering {} under the same server",
                      ">= 1,500 req/s", raw={"clients": clients, **runs})]
    targets = {"trace": ("reported", "<= 100 ms"), "verified": (">= 100 req/s", "reported")}
    for name, label in (("trace", f"GET .../trace?limit={PAGE}"), ("verified", f"GET .../trace?limit={PAGE}&verify=true")):
        if name not in runs:
            continue
        run = runs[name]
        figures += [
            Figure(f"{on}: {label}, requests/s", run["per_second"], "req/s", me["per_second"], same, targets[name][0]),
            Figure(f"{on}: {label}, p95", run["p95_ms"], "ms", me["p95_ms"], same, targets[name][1]),
        ]
    return figures
