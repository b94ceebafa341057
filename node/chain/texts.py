"""The texts behind hashes on chain: purposes, reasons for decisions, repair notes, quality reports.

A grant's purpose travels with its request (``AccessRequested`` carries the text). Every other
text is published by the node that writes the hash (``AnchorRegistry.publishText``): :func:`publish`
keeps it in ``notes`` and queues its publication in the outbox *before* the write that names its
hash, so the outbox's order puts the text on chain first. The indexer fills ``notes`` on every node
from ``TextPublished`` events (:func:`text_published`), believing a text only once its hash is
computed again here; so any node, and the auditor's trace on any node, shows what a hash stands for.

Nothing personal goes on chain: a text holding an ID number or a mobile number (the shapes of
:mod:`node.fields`) is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.catalog.texts import text_hash
from node.errors import InvalidInput
from node.fields import personal_number_in
from node.models import Note
from node.chain.outbox import enqueue
from node.chain.rows import IndexedEvent

ZERO_HASH = "0x" + "00" * 32
MAX_TEXT_BYTES = 8192
"""``AnchorRegistry.MAX_TEXT_LENGTH``."""
MAX_PURPOSE_BYTES = 1000
"""``AccessGrants.MAX_PURPOSE_LENGTH``."""


def checked(field: str, text: str, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """``text`` fit to go on chain: 1 to ``max_bytes`` bytes, and no personal number in it;
    :class:`InvalidInput` naming ``field`` otherwise."""
    size = len(text.encode())
    if not 0 < size <= max_bytes:
        raise InvalidInput(field, f"must be 1 to {max_bytes} bytes of UTF-8 (it is {size})")
    found = personal_number_in(text)
    if found is not None:
        raise InvalidInput(field, f"holds {found}: it goes on chain, where no personal data may go")
    return text


def publish(session: Session, text: str, *, field: str = "reason") -> str:
    """Keep ``text``, queue its publication unless it is on chain already, and return its hash,
    the value a write then names; no text is the zero hash. Call it before queueing that write."""
    text = text.strip()
    if not text:
        return ZERO_HASH
    digest = text_hash(checked(field, text))
    note = session.get(Note, digest)
    if note is None:
        session.add(Note(hash=digest, text=text))
    if note is None or note.published_block is None:
        enqueue(session, key=f"text:{digest}", kind="publish_text", payload={"text": text, "text_hash": digest})
    return digest


def keep_here(session: Session, text: str) -> str:
    """Keep ``text`` under its hash on this node only, never published, and return the hash: for
    a text whose hash alone goes on chain, such as the normalised SQL of a query run here, so
    this node's pages can show what the hash stands for. :mod:`node.maintenance.reindex` keeps
    unpublished notes."""
    digest = text_hash(text)
    if session.get(Note, digest) is None:
        session.add(Note(hash=digest, text=text))
    return digest


def keep(session: Session, digest: str, text: object, block: int) -> None:
    """Keep ``text``, read from an event in ``block``, under ``digest`` if it hashes to it."""
    if not isinstance(text, str) or text_hash(text) != digest:
        return
    note = session.get(Note, digest)
    if note is None:
        session.add(Note(hash=digest, text=text, published_block=block))
    elif note.published_block is None or note.published_block > block:
        note.published_block = block


def text_published(session: Session, row: IndexedEvent) -> None:
    """Projects ``TextPublished``."""
    keep(session, row.args["textHash"], row.args["text"], row.block_number)


def texts(session: Session, hashes: Iterable[str | None]) -> dict[str, str]:
    """The texts this node holds for ``hashes`` (those it has), by hash."""
    wanted = {h for h in hashes if h and h != ZERO_HASH}
    if not wanted:
        return {}
    return {n.hash: n.text for n in session.scalars(select(Note).where(Note.hash.in_(wanted)))}
