"""How long a delivered copy stays on the owner's disk, and its removal.

A copy is the grant's data in clear (masked, fingerprinted) and is only there to be downloaded:
it is kept until its first complete download plus a short grace (``keep_after_download``), or,
never downloaded, for ``keep_undownloaded``; then the file goes. Its receipt stays (the
``deliveries`` row: hash of the bytes, size, grant, consumer, and the id of the fingerprint key
that marked it), so the use on chain, the trace and the attribution of a leaked copy, which needs
the delivery id and the key but not the file, still work. Downloading a removed copy answers
that it is gone, and when.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ledger.hashing import delivery_evidence
from node.errors import DecryptionFailed, Gone, SourceTampered
from node.models import Delivery, utcnow
from node.store import PLAIN, DataStore


def key_id(key: bytes) -> str:
    """The id a receipt keeps of the fingerprint key that marked its copy: it names the key,
    never reveals it (the first 8 bytes of its SHA-256)."""
    return "0x" + hashlib.sha256(b"provledger fingerprint key id\x00" + key).digest()[:8].hex()


def open_copy(row: Delivery, store: DataStore = PLAIN) -> BinaryIO:
    """The delivered copy as its consumer gets it, open for reading (a removal while it is read
    does not cut it short), or :class:`Gone` when it was removed after its retention or is no
    longer on disk (a node restored from a backup taken while the copy was being removed).

    The copy is kept encrypted (:mod:`node.store`); it is read through once first, so that a
    copy that fails to authenticate, or whose bytes are not those of the receipt's evidence
    (another copy put in its place), is refused as tampered rather than served."""
    if row.removed_at is not None:
        raise Gone("delivery", row.delivery_id, f"its copy was removed on {row.removed_at:%Y-%m-%d %H:%M:%S} UTC "
                   "after its retention; its receipt is kept: ask for a new delivery")
    subject = f"the copy of delivery {row.delivery_id}"
    try:
        digest, _ = store.sha256(Path(row.path))
        found = "0x" + delivery_evidence(bytes.fromhex(row.delivery_id[2:]), digest).hex()
        if found != row.evidence_hash:
            raise SourceTampered(subject, row.evidence_hash, found)
        return store.open(Path(row.path))
    except FileNotFoundError:
        raise Gone("delivery", row.delivery_id, "its copy is no longer on this node's disk; its receipt is kept: "
                   "ask for a new delivery") from None
    except DecryptionFailed as err:
        raise SourceTampered(subject, row.evidence_hash, f"nothing that authenticates ({err.reason})") from err


def mark_downloaded(session: Session, delivery_id: str, at: datetime | None = None) -> None:
    """The first complete download starts the grace after which the copy goes."""
    session.execute(update(Delivery).where(Delivery.delivery_id == delivery_id, Delivery.downloaded_at.is_(None))
                    .values(downloaded_at=at or utcnow()))
    session.commit()


def sweep(session: Session, *, keep_after_download: float, keep_undownloaded: float,
          now: datetime | None = None, limit: int = 1000) -> int:
    """Remove the copies past their retention (at most ``limit`` a step); returns how many."""
    now = now or utcnow()
    due = session.scalars(select(Delivery).where(Delivery.removed_at.is_(None), or_(
        Delivery.downloaded_at < now - timedelta(seconds=keep_after_download),
        Delivery.created_at < now - timedelta(seconds=keep_undownloaded))).limit(limit)).all()
    for row in due:
        Path(row.path).unlink(missing_ok=True)
        row.removed_at = now
    session.commit()
    return len(due)
