"""`make bench` part ``idle``: what an idle deployment costs the machine.

A 3-department :class:`api.local.LocalDeployment` (what ``provledger up`` keeps running: one
anvil, three nodes and their APIs in this process) is started, left to settle, and measured
with nothing happening: the CPU time of this process and of its anvil (utime + stime from
``/proc/<pid>/stat``) over ``seconds``, as % of one core. The baseline is the same deployment,
measured right after in the same process with every background loop polling at a fixed interval
again (each loop's longest idle wait set to its first: 0.05 s for the outbox, 0.2 s for the
others, as before the loops backed off).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from api.local import LocalDeployment
from scripts.bench_figures import Bound, Figure, load_average

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far, its threads included."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass(frozen=True)
class IdleCost:
    """% of one core over a measured interval."""

    process: float
    anvil: float
    seconds: float
    load: list[float]
    """The machine's load averages at the end: CPU time grows with contention for the cores."""

    @property
    def total(self) -> float:
        return self.process + self.anvil

    def to_json(self) -> dict[str, Any]:
        return {"process_pct": self.process, "anvil_pct": self.anvil, "total_pct": self.total, "seconds": self.seconds,
                "load_average": self.load}


def measure(anvil_pid: int, seconds: float) -> IdleCost:
    own, anvil, started = cpu_seconds(os.getpid()), cpu_seconds(anvil_pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return IdleCost(100 * (cpu_seconds(os.getpid()) - own) / elapsed,
                    100 * (cpu_seconds(anvil_pid) - anvil) / elapsed, elapsed, load_average())


def bench_idle(seconds: float = 60.0, settle: float = 10.0) -> list[Figure]:
    """The deployment's CPU over ``seconds`` of idleness, backing off and then with fixed polls."""
    with LocalDeployment(departments=3) as deployment:
        anvil = deployment.chain.pid if deployment.chain is not None else None
        assert anvil is not None, "anvil is not running"
        time.sleep(settle)
        idle = measure(anvil, seconds)
        for code in [d.code for d in deployment.departments]:
            for loop in deployment.node(code).workers.values():
                loop.idle_max = loop.idle
                loop.nudge()
        time.sleep(min(settle, 2.0))
        fixed = measure(anvil, seconds)
    baseline = "the same, every loop polling at its fixed interval"
    raw = {"backing_off": idle.to_json(), "fixed_polls": fixed.to_json(), "settle_seconds": settle}
    name = f"idle 3-department deployment (provledger up), {seconds:.0f} s"
    return [
        Figure(f"{name}: CPU, process and anvil", idle.total, "% of a core", fixed.total, baseline,
               "<= 3% of one core", goal=(Bound("<=", 3.0),), raw=raw),
        Figure(f"{name}: CPU of the process (nodes and APIs)", idle.process, "% of a core", fixed.process, baseline,
               "reported"),
        Figure(f"{name}: CPU of anvil", idle.anvil, "% of a core", fixed.anvil, baseline, "reported"),
    ]
