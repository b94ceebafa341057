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


def _hex32(name: str, value: str) -> str:
    if len(value) != 66 or not value.startswith("0x"):
        raise InvalidInput(name, "must be a 32-byte hash in 0x hex")
    bytes.fromhex(value[2:])
    return value.lower()


def queue_uses(session: Session, uses: Sequence[UseRequest], *, batch_size: int = BATCH_SIZE) -> list[OutboxEntry]:
    """Queue ``uses`` as outbox batches of at most ``batch_size``; returns the batch entries."""
    if not 1 <= batch_size <= 500:
        raise InvalidInput("batch_size", "must be 1 to 500")
    checked = [
        UseRequest(_hex32("use_id", u.use_id), _hex32("grant_id", u.grant_id), Action(u.action),
                   _hex32("evidence_hash", u.evidence_hash))
        for u in uses
    ]
    ordered = sorted(checked, key=lambda u: (u.grant_id, u.use_id))
    entries = []
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start : start + batch_size]
        batch_id = "0x" + hashlib.sha256(b"".join(bytes.fromhex(u.use_id[2:]) for u in chunk)).hexdigest()
        entries.append(enqueue(session, key=f"uses:{batch_id}", kind="record_uses", payload={
            "batch_id": batch_id,
            "uses": [{"grant_id": u.grant_id, "action": int(u.action), "evidence_hash": u.evidence_hash} for u in chunk],
        }))
    return entries


def queue_batches(session: Session, kind: str, items: Sequence[dict[str, Any]], *, name: str, id_field: str,
                  batch_size: int, largest: int) -> list[OutboxEntry]:
    """Queue ``items`` (checked payload entries, each with ``grant_id`` and its random
    ``id_field``) as outbox entries of ``kind`` keyed ``name:batch id``, each holding at most
    ``batch_size`` under ``name``,
    those of one grant next to each other; a batch's id hashes its items' ids, so the same items
    queued again make the same entries. For the queries and refused queries of query grants."""
    if not 1 <= batch_size <= largest:
        raise InvalidInput("batch_size", f"must be 1 to {largest}")
    ordered = sorted(items, key=lambda i: (i["grant_id"], i[id_field]))
    entries = []
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start : start + batch_size]
        batch_id = "0x" + hashlib.sha256(b"".join(bytes.fromhex(i[id_field][2:]) for i in chunk)).hexdigest()
        entries.append(enqueue(session, key=f"{name}:{batch_id}", kind=kind,
                               payload={"batch_id": batch_id, name: list(chunk)}))
    return entries
