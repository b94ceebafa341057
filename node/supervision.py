"""Supervised background loops: a failing step never ends the node's work.

Every loop of the node (the outbox, the indexer, the monitor, anchor sealing, the signer
watcher) runs as a :class:`Supervised` step function. A step that raises (the chain gone, a
timeout, the database locked or down, a bug in one step) is logged once per outage, not once
per retry, and tried again after a capped exponential backoff; its first success after an
outage is logged too. Each loop keeps the time of its last successful step and its last error,
which ``/health`` reports and the node's backpressure (:mod:`node.health`) reads.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from web3.exceptions import BadResponseFormat, ProviderConnectionError, TimeExhausted, Web3RPCError

from ledger.errors import ChainReadFailed, ChainUnavailable

log = logging.getLogger(__name__)

Status = Literal["ok", "starting", "retrying", "stalled", "stopped"]
"""``ok``: its last step succeeded recently; ``starting``: running, no step done yet;
``retrying``: its last step failed, the outage is younger than the stall bound; ``stalled``: no
successful step for longer than the bound; ``stopped``: not running."""

CHAIN_FAILURES = (ChainUnavailable, ChainReadFailed, ProviderConnectionError, BadResponseFormat, TimeExhausted,
                  Web3RPCError)
"""What a chain read raises when the chain is away, slow or failing: a refused connection or a
timeout (``ChainUnavailable``, from ``ledger.rpc`` and ``ledger.chain.ChainProvider`` alike),
a node answering with an error."""
OUTAGES = (*CHAIN_FAILURES, SQLAlchemyError, TimeoutError, ConnectionError)
"""Failures of what a step depends on (the chain, the database): logged without a traceback."""

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def describe(err: BaseException) -> str:
    """What failed, in one line for an operator and for ``/health``: never SQL or its parameters,
    the chain's URL or credentials in a URL."""
    if isinstance(err, ChainUnavailable) and err.__cause__ is not None:
        # The transport's own failure says more; its text names the chain's host and the HTTP
        # library's objects: the system's reason is enough.
        cause = err.__cause__
        reason = _ERRNO.search(str(cause))
        return f"{type(cause).__name__}: {reason.group(1).strip()}" if reason else type(cause).__name__
    if isinstance(err, SQLAlchemyError):
        # A statement error's text holds the SQL and its parameters: show only the driver's message.
        inner = getattr(err, "orig", None)
        text = f"database: {type(inner or err).__name__}"
        first = str(inner).strip().splitlines()[0] if inner is not None and str(inner).strip() else ""
    else:
        text = type(err).__name__
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if first:
        text += f": {first}"
    return _CREDENTIALS.sub("***@", text)[:300]


@dataclass(frozen=True)
class WorkerHealth:
    """One loop as ``/health`` shows it; ages in seconds."""

    name: str
    status: Status
    last_success_age: float | None
    """Since its last successful step; None before the first."""
    last_error: str | None
    last_error_age: float | None
    failures: int
    """Failed steps in a row: 0 when the last step succeeded."""


class Supervised:
    """Runs ``step`` (returning how much work it did) until stopped: again at once after work,
    after an idle wait when there was none, after a backoff from ``first_retry`` doubling up to
    ``max_retry`` seconds while it fails. Steps that must not overlap share a ``lock``.

    The idle wait starts at ``idle`` and doubles, step after step without work, up to
    ``idle_max`` (default: ``idle``, a fixed poll), so an idle node costs next to nothing; it
    starts over after work. While ``busy()`` says work is under way that a step will finish (a
    write sent, not yet mined) the loop looks again every ``poll`` seconds (default: ``idle``):
    nothing announces that work's end, so no idle wait may delay it. :meth:`nudge` ends a wait at once: whoever makes work for the
    loop (a write queued, events indexed) nudges it, so backing off adds no lag to that work; a
    step that did work nudges the loop it ``wakes`` (the one that takes its results on).
    Whoever sets ``stop`` nudges the loop too, or it ends after its current wait."""

    def __init__(self, name: str, step: Callable[[], int], *, idle: float = 0.2, idle_max: float | None = None,
                 busy: Callable[[], bool] | None = None, poll: float | None = None,
                 wakes: Supervised | None = None, first_retry: float = 0.5,
                 max_retry: float = 10.0, lock: threading.Lock | None = None) -> None:
        self.name = name
        self._step = step
        self.idle = idle
        self.idle_max = max(idle if idle_max is None else idle_max, idle)
        self._busy = busy
        self.poll = idle if poll is None else poll
        self._wakes = wakes
        self.first_retry = first_retry
        self.max_retry = max(max_retry, first_retry)
        self._step_lock = lock
        self._wake = threading.Event()
        self._quiet = 0
        """Steps in a row that found nothing to do."""
        self._under_way = False
        """Whether ``busy()`` said, after the last step that did nothing, that work is under way."""
        self._state = threading.Lock()
        self._running = 0
        self._started: float | None = None
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._failures = 0
        self._outage_since: float | None = None

    def attempt(self) -> int | None:
        """One step: the work it did, or None if it failed (recorded, and logged once per outage)."""
        try:
            with self._step_lock or nullcontext():
                done = self._step()
            # Read like the step (the database, the chain), and failing like it.
            self._under_way = not done and self._busy is not None and self._busy()
        except Exception as err:
            self._failed(err)
            return None
        self._succeeded()
        return done

    def delay_after(self, done: int | None) -> float:
        """How long to wait before the next step: none after work, the idle wait (doubling while
        nothing comes) after none, and the backoff after a failure."""
        if done is None:
            with self._state:
                failures = self._failures
            return float(min(self.max_retry, self.first_retry * 2 ** min(max(failures - 1, 0), 30)))
        if done or self._under_way:
            self._quiet = 0
            return 0.0 if done else self.poll
        self._quiet += 1
        return float(min(self.idle_max, self.idle * 2 ** min(self._quiet - 1, 30)))

    def nudge(self) -> None:
        """End the loop's current wait (or the next one): there is work, or it is to stop."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; nothing a step raises ends it."""
        with self._state:
            self._running += 1
            self._started = time.monotonic()
        try:
            while not stop.is_set():
                done = self.attempt()
                if done and self._wakes is not None:
                    self._wakes.nudge()
                delay = self.delay_after(done)
                if delay:
                    self._wake.wait(delay)
                # Cleared before the next step, which then sees whatever the nudge announced.
                self._wake.clear()
        finally:
            with self._state:
                self._running -= 1

    def health(self, stall_after: float, now: float | None = None) -> WorkerHealth:
        """The loop's state; ``stalled`` once it has gone ``stall_after`` seconds without a
        successful step (failing, or one step that does not return)."""
        now = time.monotonic() if now is None else now
        with self._state:
            since = self._last_success if self._last_success is not None else self._started
            if not self._running:
                status: Status = "stopped"
            elif since is not None and now - since > stall_after:
                status = "stalled"
            elif self._failures:
                status = "retrying"
            else:
                status = "ok" if self._last_success is not None else "starting"
            return WorkerHealth(
                self.name, status, None if self._last_success is None else now - self._last_success,
                self._last_error, None if self._last_error_at is None else now - self._last_error_at,
                self._failures)

    # ------------------------------------------------------------ bookkeeping

    def _failed(self, err: Exception) -> None:
        what = describe(err)
        now = time.monotonic()
        with self._state:
            first = self._outage_since is None
            if first:
                self._outage_since = now
            self._failures += 1
            self._last_error, self._last_error_at = what, now
        if first:
            # An unexpected error also gets where it was raised, once: it is a bug to fix, not an
            # outage. The frames only: the error's own text is shown as described, never raw.
            where = "" if isinstance(err, OUTAGES) else "\n" + "".join(traceback.format_tb(err.__traceback__)).rstrip()
            log.warning("%s: %s; retrying with backoff (up to every %g s) until it recovers%s", self.name, what,
                        self.max_retry, where)
        else:
            log.debug("%s: still failing: %s", self.name, what)

    def _succeeded(self) -> None:
        now = time.monotonic()
        with self._state:
            outage, failures = self._outage_since, self._failures
            self._outage_since, self._failures, self._last_success = None, 0, now
        if outage is not None:
            # As loud as the outage it ends, so whoever saw one sees the other.
            log.warning("%s: recovered after %.1f s and %d failed attempts", self.name, now - outage, failures)
