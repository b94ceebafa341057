"""Telling a node's loops that work arrived, so that they may sleep long while none does.

A write is queued in the outbox inside whatever transaction accepts it (a route, a projection,
anchoring): the outbox is told once that transaction commits, not before (it would look and find
nothing) and not if it rolls back. The hook sits on the node's own session factory, so every
session of the node is watched and no other node's (several run in one process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from node.models import OutboxEntry

_QUEUED = "provledger.queued_write"
"""The key in ``Session.info`` marking a transaction that added an outbox entry."""


def on_queued_write(sessions: sessionmaker[Session], wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` after each commit of a session from ``sessions`` that added an outbox
    entry; returns what removes the hook."""

    def flushed(session: Session, _context: Any) -> None:
        # After a flush, ``session.new`` still lists what the flush inserted.
        if any(isinstance(added, OutboxEntry) for added in session.new):
            session.info[_QUEUED] = True

    def committed(session: Session) -> None:
        if session.info.pop(_QUEUED, False):
            wake()

    def rolled_back(session: Session) -> None:
        session.info.pop(_QUEUED, None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", flushed), ("after_commit", committed), ("after_rollback", rolled_back)]
    for name, hook in hooks:
        event.listen(sessions, name, hook)

    def remove() -> None:
        for name, hook in hooks:
            event.remove(sessions, name, hook)

    return remove
