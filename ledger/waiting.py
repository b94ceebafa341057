"""The one poll-until-deadline loop: call a probe until it gives something or time runs out.

Every wait in the product (a chain answering, a process opening its socket, a receipt, an HTTP
service coming up) is this loop; only what is probed and what is raised at the end differ.
A probe raises to stop waiting at once (a process that exited will not come up later).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimedOut(TimeoutError):
    """``what`` did not happen within ``timeout`` seconds."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g} s waiting for {what}")


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05,
             timed_out: Callable[[], BaseException] | None = None,
             tick: Callable[[], object] | None = None) -> T:
    """Call ``probe`` every ``interval`` seconds until it returns something other than ``None``
    and return that. After ``timeout`` seconds raise ``timed_out()`` if given, else
    :class:`WaitTimedOut` naming ``what``. ``tick`` is called after each empty probe (a
    progress display). The probe runs at least once, and once more at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out() if timed_out is not None else WaitTimedOut(what, timeout)
        if tick is not None:
            tick()
        time.sleep(min(interval, remaining))
