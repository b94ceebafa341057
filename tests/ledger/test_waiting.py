"""The one wait loop: what it returns, when it gives up, and what it raises then."""

from __future__ import annotations

import itertools

import pytest

from ledger.waiting import WaitTimedOut, wait_for


def test_it_returns_the_first_answer_and_stops_probing() -> None:
    calls = itertools.count(1)
    probes: list[int] = []

    def probe() -> int | None:
        n = next(calls)
        probes.append(n)
        return n if n == 3 else None

    assert wait_for(probe, timeout=10, what="the third call", interval=0) == 3
    assert probes == [1, 2, 3]


def test_a_falsy_answer_is_an_answer() -> None:
    assert wait_for(lambda: 0, timeout=1, what="zero") == 0


def test_it_names_what_it_waited_for_when_time_runs_out() -> None:
    with pytest.raises(WaitTimedOut, match="timed out after 0.05 s waiting for the chain") as raised:
        wait_for(lambda: None, timeout=0.05, what="the chain", interval=0.01)
    assert raised.value.what == "the chain"


def test_the_caller_chooses_the_error_and_a_probe_can_stop_the_wait() -> None:
    with pytest.raises(ConnectionError, match="gone"):
        wait_for(lambda: None, timeout=0, what="x", timed_out=lambda: ConnectionError("gone"))

    def exited() -> None:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_for(exited, timeout=10, what="a process")


def test_tick_runs_after_each_empty_probe() -> None:
    answers = iter([None, None, "ok"])
    ticks: list[None] = []
    assert wait_for(lambda: next(answers), timeout=10, what="ok", interval=0, tick=lambda: ticks.append(None)) == "ok"
    assert len(ticks) == 2
