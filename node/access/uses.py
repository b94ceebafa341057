"""Uses of data, gathered into ``recordUses`` batches that travel through the outbox.

A batch's id is the hash of the ids of the uses in it, so the same uses queued again make the
same batch, which the outbox and the contract both refuse to apply twice. Uses of one grant are
kept next to each other, so the contract checks the grant once per run of uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger.clients import Action
from node.errors import InvalidInput
from node.models import OutboxEntry
from node.chain.outbox import enqueue

BATCH_SIZE = 500
"""Uses per `recordUses` transaction: the most a batch may hold (~48 KB of calldata, ~3 M gas,
under geth's 128 KB transaction limit). Bigger batches cost less gas per use and fewer
signatures and nonces per second."""


@dataclass(frozen=True)
class UseRequest:
    use_id: str
    grant_id: str
    action: Action
    evidence_hash: str


def hex32(name: str, value: str) -> str:
    """``value`` checked as a 32-byte hash in 0x hex, lower-cased."""
    if len(value) != 66 or not value.startswith("0x"):
        raise InvalidInput(name, "must be a 32-byte hash in 0x hex")
    bytes.fromhex(value[2:])
    return value.lower()


def queue_uses(session: Session, uses: Sequence[UseRequest], *, batch_size: int = BATCH_SIZE) -> list[OutboxEntry]:
    """Queue ``uses`` as outbox batches of at most ``batch_size``; returns the batch entries."""
    return queue_batches(session, "record_uses", [
        {"use_id": hex32("use_id", u.use_id), "grant_id": hex32("grant_id", u.grant_id), "action": int(Action(u.action)),
         "evidence_hash": hex32("evidence_hash", u.evidence_hash)} for u in uses],
        name="uses", id_field="use_id", batch_size=batch_size, largest=BATCH_SIZE)


def queue_batches(session: Session, kind: str, items: Sequence[dict[str, Any]], *, name: str, id_field: str,
                  batch_size: int, largest: int) -> list[OutboxEntry]:
    """Queue ``items`` (checked payload entries, each with ``grant_id`` and its random
    ``id_field``) as outbox entries of ``kind`` keyed ``name:batch id``, each holding at most
    ``batch_size`` of them under ``name`` (without ``id_field``: the contract takes the batch's),
    those of one grant next to each other; a batch's id hashes its items' ids, so the same items
    queued again make the same entries. For uses, queries and refused queries alike."""
    if not 1 <= batch_size <= largest:
        raise InvalidInput("batch_size", f"must be 1 to {largest}")
    ordered = sorted(items, key=lambda i: (i["grant_id"], i[id_field]))
    entries = []
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start : start + batch_size]
        batch_id = "0x" + hashlib.sha256(b"".join(bytes.fromhex(i[id_field][2:]) for i in chunk)).hexdigest()
        entries.append(enqueue(session, key=f"{name}:{batch_id}", kind=kind, payload={
            "batch_id": batch_id, name: [{k: v for k, v in i.items() if k != id_field} for i in chunk]}))
    return entries
