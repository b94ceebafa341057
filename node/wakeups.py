"""Telling a node's loops that work arrived, so that they may sleep long while none does.

Work for a loop is made inside whatever transaction accepts it (a route, a projection, a
delivery): a write queued in the outbox, an item to anchor. The loop is told once that
transaction commits, not before (it would look and find nothing) and not if it rolls back. The
hook sits on the node's own session factory, so every session of the node is watched and no
other node's (several run in one process). It sees rows added through the session (``enqueue``,
``add_item``); a bulk insert past the ORM would have to wake the loop itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


def wake_on_commit(sessions: sessionmaker[Session], added: tuple[type, ...],
                   wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` after each commit of a session from ``sessions`` that added a row of one of
    the ``added`` models; returns what removes the hook."""
    key = object()  # marks, in ``Session.info``, a transaction that added such a row

    def flushed(session: Session, _context: Any) -> None:
        # After a flush, ``session.new`` still lists what the flush inserted.
        if any(isinstance(row, added) for row in session.new):
            session.info[key] = True

    def committed(session: Session) -> None:
        if session.info.pop(key, False):
            wake()

    def rolled_back(session: Session) -> None:
        session.info.pop(key, None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", flushed), ("after_commit", committed), ("after_rollback", rolled_back)]
    for name, hook in hooks:
        event.listen(sessions, name, hook)

    def remove() -> None:
        for name, hook in hooks:
            event.remove(sessions, name, hook)

    return remove
