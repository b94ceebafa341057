"""The sessions' role cache against the real chain: one JSON-RPC batch per address per ttl
however many requests ask at once, a change on chain seen once the ttl has passed, and a chain
that does not answer failing every waiting request at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from eth_account import Account

from api.sessions import ZERO32, ChainRoles
from ledger.chain import free_port
from ledger.errors import ChainUnavailable
from ledger.rpc import RpcBatcher, RpcResult
from tests.utils.ledgers import DEPARTMENTS, Suite


class CountingRpc(RpcBatcher):
    """Counts the batches sent; each one takes ``delay`` seconds at least, so that callers overlap."""

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        super().__init__(url, timeout=2)
        self.batches = 0
        self.delay = delay
        self._count = threading.Lock()

    def call(self, calls: Sequence[tuple[str, list[Any]]], *, timeout: float | None = None) -> list[RpcResult]:
        with self._count:
            self.batches += 1
        threading.Event().wait(self.delay)
        return super().call(calls, timeout=timeout)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def at_once(count: int, work: Any) -> list[Any]:
    """Run ``work()`` in ``count`` threads started together; what each returned or raised."""
    start, results = threading.Barrier(count), [None] * count

    def run(i: int) -> None:
        start.wait(timeout=10)
        try:
            results[i] = work()
        except Exception as err:  # kept for the test to look at
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def consumer(suite: Suite) -> str:
    address: str = Account.create().address
    suite.departments[1].consortium.register_consumer(address)
    return address


def test_one_chain_read_serves_every_request_for_an_address_within_the_ttl(suite: Suite) -> None:
    rpc = CountingRpc(suite.coordinator.w3.provider.endpoint_uri, delay=0.2)  # type: ignore[attr-defined]
    roles = ChainRoles(suite.coordinator.consortium, ttl=60, rpc=rpc)
    address = consumer(suite)
    standings = at_once(32, lambda: roles.standing(address))
    assert rpc.batches == 1
    assert {s.sponsor for s in standings} == {DEPARTMENTS[1].encode().ljust(32, b"\x00")}
    assert roles.cached(address) == standings[0]
    auditor = suite.accounts[9].address
    assert roles.cached(auditor) is None
    assert roles.standing(auditor).auditor and rpc.batches == 2


def test_a_change_on_chain_is_seen_once_the_ttl_has_passed(suite: Suite) -> None:
    clock = Clock()
    rpc = CountingRpc(suite.coordinator.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    roles = ChainRoles(suite.coordinator.consortium, ttl=3, rpc=rpc, clock=clock)
    address = consumer(suite)
    assert roles.standing(address).sponsor != ZERO32
    commission = suite.departments[1].consortium
    assert commission.sender is not None
    commission.sender.transact(commission.contract.functions.removeConsumer(address))
    clock.now += 2.9
    assert roles.standing(address).sponsor != ZERO32 and rpc.batches == 1
    clock.now += 0.1
    assert roles.standing(address).sponsor == ZERO32 and rpc.batches == 2


def test_a_chain_that_does_not_answer_fails_every_waiting_request_at_once(suite: Suite) -> None:
    clock = Clock()
    rpc = CountingRpc(f"http://127.0.0.1:{free_port()}", delay=0.2)
    roles = ChainRoles(suite.coordinator.consortium, ttl=3, rpc=rpc, clock=clock)
    address = consumer(suite)
    outcomes = at_once(8, lambda: roles.standing(address))
    assert all(isinstance(o, ChainUnavailable) for o in outcomes), outcomes
    assert rpc.batches == 1
    assert roles.cached(address) is None
    clock.now += 3
    with pytest.raises(ChainUnavailable):
        roles.standing(address)
    assert rpc.batches == 2
