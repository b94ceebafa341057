"""What the chain says of logs at settled positions, kept between verified reads of a trace.

A log named by its block's hash and its index there cannot change: the hash commits to the
block's receipts. A row read from one is kept only once its block is at or below the block the
index stands on (confirmed by the node's rule), so re-reading a page with ``verify`` asks the chain
only for what it has not read before. The one way a kept row could mislead is a reorg that the
index has not followed yet, naming a block the chain no longer has: :class:`ChainSets` clears the
rows whenever it finds the chain moved under the index (the block the index stands on, or the
one a subject's list was read to, no longer the chain's), which every verified read checks first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

Key = tuple[str, int]
"""(block hash, log index)."""


class SettledRows:
    """The chain's rows of settled logs, by block hash and log index, the ``limit`` last used."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._rows: OrderedDict[Key, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Any | None:
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
            return row

    def put(self, key: Key, row: Any) -> None:
        with self._lock:
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self.limit:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
