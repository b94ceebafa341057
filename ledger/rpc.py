"""JSON-RPC batches: many calls in one HTTP request, for the hot paths where web3's
one-request-per-call costs more than the calls themselves (broadcasting and confirming
dozens of transactions at a time)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ledger.errors import ChainUnavailable


@dataclass(frozen=True)
class RpcResult:
    result: Any
    error: dict[str, Any] | None

    @property
    def message(self) -> str:
        return str(self.error.get("message", self.error)) if self.error else ""


class RpcBatcher:
    """Sends lists of ``(method, params)`` as JSON-RPC batches to one endpoint."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._session = requests.Session()
        # The chain is a known local or consortium endpoint: skip proxy discovery per request.
        self._session.trust_env = False

    def call(self, calls: Sequence[tuple[str, list[Any]]]) -> list[RpcResult]:
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body: list[dict[str, Any]] = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        try:
            response = self._session.post(self.url, json=body, timeout=self.timeout)
            response.raise_for_status()
            replies = response.json()
        except (requests.RequestException, ValueError) as err:
            raise ChainUnavailable(self.url) from err
        if isinstance(replies, dict):
            # Some nodes answer a whole batch with one error object.
            return [RpcResult(None, replies.get("error") or {"message": str(replies)}) for _ in calls]
        by_id = {reply.get("id"): reply for reply in replies}
        missing = {"message": "no reply in batch"}
        return [RpcResult(by_id.get(i, {}).get("result"), by_id.get(i, {"error": missing}).get("error")) for i in ids]

    def close(self) -> None:
        self._session.close()
