"""Operator maintenance of one node: backups and their restore (:mod:`.backup`), and the
rebuild of the index from the chain alone (:mod:`.reindex`).

A running node service holds a shared lock on ``DATA_DIR/node.lock`` (:func:`announce_running`);
what must not run beside it (``reindex --replace``) asks for the lock exclusively
(:func:`stopped`) and is refused while any service holds it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from node.errors import NodeError
from node.private import make_private

LOCK_NAME = "node.lock"


class NodeRunning(NodeError):
    """A maintenance step that needs the node stopped found it running."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(f"a node service is running on {data_dir} (it holds {data_dir / LOCK_NAME}): stop it first")


def announce_running(data_dir: Path) -> IO[bytes]:
    """Hold a shared lock on the node's lock file while the returned file stays open."""
    make_private(data_dir)
    handle = open(data_dir / LOCK_NAME, "ab")
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


@contextmanager
def stopped(data_dir: Path) -> Iterator[None]:
    """Hold the lock exclusively, so no node service starts meanwhile; :class:`NodeRunning` if one runs."""
    make_private(data_dir)
    with open(data_dir / LOCK_NAME, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise NodeRunning(data_dir) from err
        yield
