"""JSON-RPC batches: many calls in one HTTP request, for the hot paths where web3's
one-request-per-call costs more than the calls themselves (broadcasting and confirming
dozens of transactions at a time, reading many blocks and logs).

A :class:`RpcBatcher` holds one keep-alive ``httpx.Client`` to one endpoint; whoever builds it
closes it (a :class:`ledger.deploy.Ledger` builds and closes its own, ``ledger.rpc``). It
raises only :class:`ChainUnavailable` (nothing answers, or not over HTTP) and
:class:`ChainReadFailed` (the node answered, but not with JSON-RPC), so its callers need no
HTTP library to tell a chain failure.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from ledger.errors import ChainReadFailed, ChainUnavailable


@dataclass(frozen=True)
class RpcResult:
    """One call's answer: its ``result``, or the node's ``error`` object for that call alone."""

    result: Any
    error: dict[str, Any] | None

    @property
    def message(self) -> str:
        return str(self.error.get("message", self.error)) if self.error else ""


class RpcBatcher:
    """Sends lists of ``(method, params)`` as JSON-RPC batches to one endpoint; safe to share
    between threads."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        # The chain is a known local or consortium endpoint: no proxy from the environment.
        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def call(self, calls: Sequence[tuple[str, list[Any]]], *, timeout: float | None = None) -> list[RpcResult]:
        """The answers to ``calls``, in their order; an item the node failed has its ``error``.
        ``timeout`` bounds this batch instead of the batcher's own."""
        if not calls:
            return []
        with self._ids_lock:
            ids = [next(self._ids) for _ in calls]
        body: list[dict[str, Any]] = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        try:
            response = self._client.post(self.url, json=body,
                                         timeout=self.timeout if timeout is None else timeout)
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise ChainUnavailable(self.url) from err
        try:
            replies = response.json()
        except ValueError as err:
            raise ChainReadFailed(f"a batch of {len(calls)} calls", "the answer is not JSON") from err
        if isinstance(replies, dict):
            # Some nodes answer a whole batch with one error object.
            return [RpcResult(None, replies.get("error") or {"message": str(replies)}) for _ in calls]
        if not isinstance(replies, list):
            raise ChainReadFailed(f"a batch of {len(calls)} calls", "the answer is no JSON-RPC batch")
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        missing = {"message": "no reply in batch"}
        return [RpcResult(by_id.get(i, {}).get("result"), by_id.get(i, {"error": missing}).get("error")) for i in ids]

    def close(self) -> None:
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def __enter__(self) -> RpcBatcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
