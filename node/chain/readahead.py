"""The logs beyond the indexer's cursor that it has read already, or is reading in the background.

Catching up, a step asks for more blocks than fit in it (:meth:`node.chain.indexer.Indexer._fit`
cuts it at about ``step_events`` events): the logs left over are kept for the next step
(:meth:`ReadAhead.keep`) rather than read again. And while a step writes its rows, the next
span's logs are read and decoded in a background thread (:meth:`ReadAhead.read_on`): the chain
node serves them, the JSON arrives and is decoded while SQL works (SQLite and psycopg let go of
Python's lock while they do). What is read ahead is only a guess at the chain: the
step that takes it checks every log's block hash against the headers it reads itself.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ledger.events import LogRecord

Logs = list[LogRecord]


def _done(logs: Logs) -> Future[Logs]:
    future: Future[Logs] = Future()
    future.set_result(logs)
    return future


class ReadAhead:
    """The decoded logs of the blocks ``start..end`` (contiguous), some still being read."""

    def __init__(self, fetch: Callable[[int, int], Logs]) -> None:
        self._fetch = fetch
        self._pool: ThreadPoolExecutor | None = None
        self._start, self._end, self._known = 0, -1, 0
        self._parts: list[Future[Logs]] = []

    def take(self, start: int, end: int, safe: int) -> tuple[Logs, int, bool]:
        """The logs of blocks ``start..last`` and ``last`` (at least ``end``): those read ahead if
        they begin at ``start`` and end at ``safe`` or below, and the rest read now; whether any
        was read ahead. Nothing is kept after."""
        parts, ahead_start, ahead_end = self._parts, self._start, self._end
        self.clear()
        if not parts or ahead_start != start or ahead_end > safe:
            return self._fetch(start, end), end, False
        logs = [log for part in parts for log in part.result()]
        if end > ahead_end:
            logs += self._fetch(ahead_end + 1, end)
        return logs, max(end, ahead_end), True

    def keep(self, start: int, end: int, logs: Logs) -> None:
        """Keep ``logs``, those of blocks ``start..end`` a step read but left."""
        self._start, self._end, self._known, self._parts = start, end, len(logs), [_done(logs)]

    def read_on(self, after: int, safe: int, span: int, enough: int) -> None:
        """Begin reading the ``span`` blocks that follow block ``after`` (or what is kept) up to
        ``safe``, unless ``enough`` logs are kept already."""
        if not self._parts:
            self._start, self._end, self._known = after + 1, after, 0
        if self._known >= enough or self._end >= safe:
            return
        stop = min(safe, self._end + span)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-read-ahead")
        self._parts.append(self._pool.submit(self._fetch, self._end + 1, stop))
        self._end = stop

    def clear(self) -> None:
        self._start, self._end, self._known, self._parts = 0, -1, 0, []
