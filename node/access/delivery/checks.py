"""The checks a node makes against the chain before any data leaves it.

A node believes the chain, not its own SQL: before serving, it reads on chain, at that moment,
that the ledger is not paused, the dataset is this department's and not frozen, the version's
root is anchored in it with the schema the node holds, the grant is active for this very
consumer, the consumer is still registered with a sponsor (or serves a member department), and
which fields the grant leaves in the clear, by name; and, under the grant's lock, that a use of
its quota is left. It then hashes the stored source again and compares it with the anchored
root, so a file changed on disk is never served. The root is over the plaintext of a file the
node keeps encrypted (:mod:`node.store`), so a file that fails to authenticate is tampered too.

Re-hashing is cached by file identity (path, inode, size, modification time), so a source read
for every delivery is hashed once until it changes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger import ids
from ledger.clients import Action, GrantStatus, Refusal
from ledger.clients import Grant as ChainGrant
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from node.access.review import chain_grant
from node.chain.outbox import CONFIRMED
from node.errors import CannotRecord, DeliveryRefused, LedgerPaused, NotFound, NotPermitted, SourceTampered
from node.models import Dataset, DatasetVersion, Delivery, OutboxEntry
from node.models import Grant as GrantRow
from node.store import PLAIN, DataStore

# ---------------------------------------------------------------- the ledger and the dataset


def require_not_paused(ledger: Ledger) -> None:
    """A paused ledger records no use, so nothing is served that could not be recorded."""
    if ledger.consortium.paused():
        raise LedgerPaused(None)


def require_own_dataset(ledger: Ledger, department: str, dataset_id: str) -> None:
    """The dataset is registered on chain and owned by ``department``: not just in SQL."""
    try:
        owner = ledger.registry.dataset(bytes.fromhex(dataset_id[2:])).owner_department
    except ContractError as err:
        if err.name == "RegistryUnknownDataset":
            raise NotFound("dataset on chain", dataset_id) from err
        raise
    if owner != department_id(department):
        raise NotPermitted(department, f"serve dataset {dataset_id}",
                           f"the chain says it belongs to department 0x{owner.hex()}")


def require_anchored_version(ledger: Ledger, version: DatasetVersion) -> None:
    """The version's root is anchored in its dataset on chain, with the schema the node holds."""
    dataset = bytes.fromhex(version.dataset_id[2:])
    number = ledger.registry.version_of_root(dataset, bytes.fromhex(version.content_root[2:]))
    if number == 0:
        raise CannotRecord(f"version {version.number} of {version.dataset_id} is not anchored on chain yet")
    anchored = ledger.registry.version(dataset, number)
    if "0x" + anchored.schema_hash.hex() != version.schema_hash:
        raise SourceTampered(f"the schema of version {version.number} of {version.dataset_id}",
                             "0x" + anchored.schema_hash.hex(), version.schema_hash)


# ---------------------------------------------------------------- the source on disk


class SourceHashes:
    """Content roots of stored sources, computed again only when a file's identity changes."""

    def __init__(self) -> None:
        self._roots: dict[tuple[object, ...], str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _identity(path: Path, chunk_size: int) -> tuple[object, ...]:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        stats = [(str(p), s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for p in files for s in (os.stat(p),)]
        return (str(path), chunk_size, *stats)

    def root_of(self, path: Path, chunk_size: int, store: DataStore = PLAIN) -> str:
        key = self._identity(path, chunk_size)
        with self._lock:
            known = self._roots.get(key)
        if known is not None:
            return known
        root = "0x" + store.root_of(path, chunk_size).root.hex()
        with self._lock:
            self._roots[key] = root
        return root


SOURCES = SourceHashes()


def require_untampered_source(version: DatasetVersion, sources: SourceHashes = SOURCES,
                              store: DataStore = PLAIN) -> Path:
    """The stored source still hashes to the version's anchored root; returns its path, which
    ``store`` opens as plaintext (a source kept encrypted needs the node's store: without it,
    it is refused as unreadable)."""
    path = Path(version.source_path)
    try:
        found = sources.root_of(path, version.chunk_size, store)
    except (OSError, ValueError) as err:
        raise SourceTampered(f"the source of version {version.number} of {version.dataset_id}",
                             version.content_root, f"nothing readable ({err})") from err
    if found != version.content_root:
        raise SourceTampered(f"the source of version {version.number} of {version.dataset_id}",
                             version.content_root, found)
    return path


# ---------------------------------------------------------------- the grant


def is_registered(ledger: Ledger, account: str) -> bool:
    """Whether ``account`` is a sponsored consumer or serves a member department, now."""
    return ledger.consortium.sponsor_of(account) != b"\x00" * 32 or ledger.consortium.department_of(account) != b"\x00" * 32


def grant_refusal(ledger: Ledger, grant: ChainGrant, action: Action) -> tuple[Refusal, str] | None:
    """Why the grant allows no ``action`` now, as the contract would say it; None if it does.
    The quota is checked apart, under the grant's reservation lock."""
    # The use is recorded in a later block, stamped no earlier than now and, as every block,
    # later than the latest one: a chain mining fast (anvil, a block per transaction) runs its
    # clock ahead of the wall's, and the contract judges expiry by the block's.
    now = max(int(ledger.w3.eth.get_block("latest")["timestamp"]) + 1, int(time.time()))
    if grant.status is GrantStatus.REVOKED:
        return Refusal.REVOKED, "the grant was revoked"
    if grant.status is not GrantStatus.ACTIVE:
        return Refusal.NOT_ACTIVE, f"the grant is {grant.status.name.lower()}"
    if not is_registered(ledger, grant.grantee):
        return Refusal.GRANTEE_REMOVED, f"{grant.grantee} is no longer registered in the consortium"
    if grant.expires_at <= now:
        return Refusal.EXPIRED, f"the grant expired at {grant.expires_at}"
    if ledger.registry.dataset(grant.dataset_id).frozen:
        return Refusal.DATASET_FROZEN, "the dataset is frozen"
    if not grant.actions >> int(action) & 1:
        return Refusal.ACTION_NOT_GRANTED, f"the grant does not allow {action.name.lower()}"
    return None


def granted_fields(session: Session, ledger: Ledger, grant_id: str, grant: ChainGrant) -> list[str]:
    """The field names the grant leaves in the clear, as requested on chain.

    The names come from the indexed request when its hash matches the grant's on chain, and
    otherwise from the request's log read from the chain itself: never from SQL alone.
    """
    row = session.get(GrantRow, grant_id)
    if row is not None and ids.fields_hash(row.fields) == grant.fields_hash:
        return list(row.fields)
    logs = ledger.w3.eth.get_logs({
        "address": Web3.to_checksum_address(ledger.grants.address), "fromBlock": ledger.manifest.deployment_block, "toBlock": "latest",
        "topics": [None, "0x" + bytes.fromhex(grant_id[2:]).hex()],
    })
    for log in logs:
        event = ledger.events.decode(log)
        if event is not None and event.name == "AccessRequested":
            fields = list(event.args["fields"])
            if ids.fields_hash(fields) == grant.fields_hash:
                return fields
    raise CannotRecord(f"the fields of grant {grant_id} cannot be read from the chain yet")


def grant_for(ledger: Ledger, grant_id: str, consumer: str) -> ChainGrant:
    """The grant on chain, which must be ``consumer``'s."""
    grant = chain_grant(ledger, grant_id)
    if grant.grantee != Web3.to_checksum_address(consumer):
        raise NotPermitted(consumer, "use this grant", "it was granted to another account")
    return grant


def require_grant_allows(ledger: Ledger, grant_id: str, grant: ChainGrant, action: Action) -> None:
    refused = grant_refusal(ledger, grant, action)
    if refused is not None:
        raise DeliveryRefused(grant_id, refused[0].name, refused[1])


# ---------------------------------------------------------------- the quota


def uses_spent(session: Session, ledger: Ledger, grant_id: str) -> int:
    """Uses of the grant on chain plus this node's uses of it that have not landed, both read at
    one block taken after the queue: a use mined meanwhile is counted exactly once. A use whose
    write failed is still counted: it was served, so it is never forgotten."""
    entries = session.scalars(
        select(OutboxEntry).join(Delivery, OutboxEntry.key == Delivery.outbox_key)
        .where(Delivery.grant_id == grant_id, OutboxEntry.status != CONFIRMED)
    ).all()
    block = ledger.w3.eth.block_number
    assert ledger.sender is not None, "a node delivers with its own account"
    me = ledger.sender.address
    pending = sum(not ledger.usage.id_used(me, bytes.fromhex(e.payload["batch_id"][2:]), block=block) for e in entries)
    return ledger.usage.uses_of(bytes.fromhex(grant_id[2:]), block=block) + pending


def quota_refusal(session: Session, ledger: Ledger, grant_id: str, grant: ChainGrant) -> tuple[Refusal, str] | None:
    """:attr:`Refusal.QUOTA_EXHAUSTED` if the grant's uses are spent or on their way (see
    :func:`uses_spent`); None if one is left. Call it holding ``GRANT_LOCKS.hold(grant_id)``
    until the use is queued, or two requests may take the last use."""
    used = uses_spent(session, ledger, grant_id)
    if used >= grant.max_uses:
        return Refusal.QUOTA_EXHAUSTED, f"{used} of {grant.max_uses} uses spent or on their way"
    return None


# ---------------------------------------------------------------- quota reservations


class GrantLocks:
    """One lock per grant: a delivery checks the quota, builds its copy and queues its use while
    holding it, so concurrent requests on one grant take the quota one at a time."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, grant_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(grant_id, threading.Lock())
        with lock:
            yield


GRANT_LOCKS = GrantLocks()


def dataset_row(session: Session, dataset_id: str) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset on this node", dataset_id)
    return dataset
