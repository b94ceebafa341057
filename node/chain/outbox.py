"""The durable outbox: every chain write is committed to SQL before it is sent.

An entry moves ``pending`` -> ``signed`` -> ``confirmed`` (or ``failed``):

- ``pending``: accepted, with an idempotency key; nothing sent yet.
- ``signed``: its transaction is signed with a nonce, and the raw bytes and hash are committed
  *before* broadcasting. After a crash the very same transaction is broadcast again, which the
  chain treats as a duplicate, so a write is never sent twice under two nonces.
- ``confirmed``: mined, successful and deep enough; or reverted because the chain already holds
  its effect (the contracts refuse duplicates), which is checked, not assumed.
- ``failed``: reverted for another reason; the decoded error is kept.

A write refused for a passing reason (the coordinator paused the ledger) goes back to
``pending`` and is signed again once the ledger resumes: nothing is sent while it is paused but
the coordinator's own write that resumes it.
So does a write that reverted while a write queued before it was still open: when another
transaction of the node's account spends a nonce, the earlier write is signed again behind the
later ones already signed, which may need it (a version needs its dataset); the order is kept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session, sessionmaker
from web3.exceptions import Web3Exception

from ledger.deploy import Ledger
from ledger.errors import ContractError, LedgerError
from ledger.tx import TransactionSender
from node.errors import WriteRejected
from node.models import OutboxEntry, utcnow
from node.supervision import Supervised
from node.chain.writes import RUN_WHILE_PAUSED, WRITES

PENDING, SIGNED, CONFIRMED, FAILED = "pending", "signed", "confirmed", "failed"
TRANSIENT_REVERTS = frozenset({"ConsortiumIsPaused"})
"""Reverts that say "not now" rather than "never": the write is sent again later."""
BROADCAST_BYTES = 1 << 20
"""The most signed bytes one broadcast request carries: geth refuses a request over 5 MB, and a
window of 64 batches of 500 uses is ~3 MB of transactions, twice that in hex."""
_ALREADY_SENT = ("already known", "already imported", "nonce too low", "known transaction", "replacement transaction underpriced")


def enqueue(session: Session, *, key: str, kind: str, payload: dict[str, Any]) -> OutboxEntry:
    """Accept a write inside the caller's transaction; the same key twice is one write."""
    if kind not in WRITES:
        raise ValueError(f"unknown chain write kind {kind!r}")
    existing = session.scalar(select(OutboxEntry).where(OutboxEntry.key == key))
    if existing is not None:
        return existing
    entry = OutboxEntry(key=key, kind=kind, payload=payload, status=PENDING)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Backlog:
    """The writes accepted and not yet on chain (pending or signed), and the oldest one's age in seconds."""

    open: int
    oldest_age: float | None


def backlog(session: Session) -> Backlog:
    count, oldest = session.execute(select(func.count(OutboxEntry.id), func.min(OutboxEntry.created_at))
                                    .where(OutboxEntry.status.in_((PENDING, SIGNED)))).one()
    if oldest is None:
        return Backlog(count or 0, None)
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
    return Backlog(count, max((utcnow() - oldest).total_seconds(), 0.0))


class OutboxWorker:
    """Sends the outbox's entries for one department account, in order, ``window`` at a time."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        sender: TransactionSender,
        *,
        confirmations: int = 1,
        window: int = 64,
        max_in_flight: int = 128,
        resend_after: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.sender = sender
        self.confirmations = confirmations
        self.window = window
        self.max_in_flight = max_in_flight
        self.resend_after = resend_after
        self._recovered = False
        self._resync = False

    # ------------------------------------------------------------ the loop

    def run(self, stop: threading.Event, idle_sleep: float = 0.05) -> None:
        """Send until ``stop``, supervised: an unreachable chain is waited out with backoff, as
        what the outbox holds is safe in SQL."""
        Supervised("outbox", self.step, idle=idle_sleep).run(stop)

    def run_until_idle(self, timeout: float = 300.0) -> None:
        loop = Supervised("outbox", self.step, idle=0.01)
        deadline = time.monotonic() + timeout
        while (done := loop.attempt()) != 0 or self.open_count():
            if time.monotonic() > deadline:
                last = loop.health(timeout).last_error
                raise TimeoutError(f"outbox still has {self.open_count()} open entries after {timeout} s"
                                   + (f" (last error: {last})" if last else ""))
            time.sleep(loop.delay_after(done) or 0.01)

    def step(self) -> int:
        """Broadcast again what a crash may have lost, sign and send new entries, confirm sent
        ones; returns how many entries changed state."""
        try:
            if not self._recovered:
                self._rebroadcast_signed()
                self._resync = True
                self._recovered = True
            return self._send_pending() + self._confirm_signed()
        except Exception:
            # Whatever was broadcast to a node that went down may be lost with its pool: once
            # the chain answers again, broadcast the signed transactions again at once.
            self._recovered = False
            raise

    def open_count(self) -> int:
        with self.sessions() as session:
            return backlog(session).open

    # ------------------------------------------------------------ steps

    def _rebroadcast_signed(self) -> None:
        with self.sessions() as session:
            signed = session.scalars(
                select(OutboxEntry).where(OutboxEntry.status == SIGNED).order_by(OutboxEntry.nonce)
            ).all()
            self._broadcast([entry.raw_tx for entry in signed if entry.raw_tx is not None])

    def _send_pending(self) -> int:
        with self.sessions() as session:
            # Bounded in flight: a chain node's pool holds only so many transactions of one
            # account, and an anvil mines a backlog only as new transactions arrive.
            in_flight = session.scalar(select(func.count()).select_from(OutboxEntry)
                                       .where(OutboxEntry.status == SIGNED)) or 0
            room = min(self.window, self.max_in_flight - in_flight)
            if room <= 0:
                return 0
            entries = session.scalars(
                select(OutboxEntry).where(OutboxEntry.status == PENDING).order_by(OutboxEntry.id).limit(room)
            ).all()
            if not entries:
                return 0
            if self.ledger.consortium.paused():
                # Only the write that ends the pause goes out; the others wait for it, in order.
                entries = session.scalars(select(OutboxEntry).where(
                    OutboxEntry.status == PENDING, OutboxEntry.kind.in_(RUN_WHILE_PAUSED)).order_by(OutboxEntry.id).limit(1)
                ).all()
                if not entries:
                    return 0
            if self._resync:
                self.sender.nonces.resync()
                self._resync = False
            raws = []
            for entry in entries:
                try:
                    raws.append(self._sign(entry))
                except (ValueError, TypeError, KeyError, Web3Exception) as err:
                    # A payload no call can be built from (e.g. a malformed id) fails alone.
                    entry.status = FAILED
                    entry.error = f"cannot build the transaction: {err}"[:1000]
            # Committed before anything leaves: after a crash these exact bytes go out again.
            session.commit()
        self._broadcast(raws)
        return len(entries)

    def _sign(self, entry: OutboxEntry) -> bytes:
        kind = WRITES[entry.kind]
        # A write signed again must outbid its own earlier transaction at the same nonce.
        params = self.sender.call_params(kind.transaction(self.ledger, entry.payload), gas=kind.gas(entry.payload),
                                         price_bump=entry.attempts)
        entry.nonce, entry.raw_tx, tx_hash = self.sender.sign_next(params)
        entry.tx_hash = tx_hash.to_0x_hex()
        entry.status = SIGNED
        entry.attempts += 1
        return entry.raw_tx

    def _broadcast(self, raws: list[bytes]) -> None:
        """Send signed transactions in batches of at most :data:`BROADCAST_BYTES`; ones the
        node already has are fine."""
        chunks: list[list[bytes]] = [[]]
        size = 0
        for raw in raws:
            if chunks[-1] and size + len(raw) > BROADCAST_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(raw)
            size += len(raw)
        for chunk in chunks:
            results = self.ledger.rpc.call([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in chunk])
            for result in results:
                if result.error and not any(text in result.message.lower() for text in _ALREADY_SENT):
                    raise WriteRejected(result.message)

    def _confirm_signed(self) -> int:
        changed = 0
        with self.sessions() as session:
            signed = session.scalars(
                select(OutboxEntry).where(OutboxEntry.status == SIGNED).order_by(OutboxEntry.nonce).limit(self.window * 4)
            ).all()
            if not signed:
                return 0
            # The nonce counts are read before the receipts: a transaction they count as mined
            # has a receipt by the time the receipts are read.
            head, mined_nonce, deep_nonce = self._mined_nonces()
            # Only what is mined deep enough has its receipt read: a batch of uses has a log per
            # use (~350 KB of receipt for 500), too much to read again every step it waits.
            deep = [entry for entry in signed if entry.nonce is not None and entry.nonce < deep_nonce]
            replies = self.ledger.rpc.call([("eth_getTransactionReceipt", [entry.tx_hash]) for entry in deep])
            unknown = [entry for entry, reply in zip(deep, replies) if reply.result is None]
            for entry, reply in zip(deep, replies):
                if reply.result is not None:
                    changed += self._settle(entry, reply.result, head)
            unknown += [entry for entry in signed if entry.nonce is not None and entry.nonce >= mined_nonce]
            changed += self._unstick(unknown, mined_nonce)
            session.commit()
        return changed

    def _mined_nonces(self) -> tuple[int, int, int]:
        """The head, the account's nonce count at it, and its count at the deepest block that
        has ``confirmations``: nonces below that are mined deep enough to settle."""
        replies = self.ledger.rpc.call(
            [("eth_blockNumber", []), ("eth_getTransactionCount", [self.sender.address, "latest"])])
        head, mined_nonce = int(replies[0].result, 16), int(replies[1].result, 16)
        if self.confirmations <= 1:
            return head, mined_nonce, mined_nonce
        deep_block = max(head - self.confirmations + 1, 0)
        [deep] = self.ledger.rpc.call([("eth_getTransactionCount", [self.sender.address, hex(deep_block)])])
        return head, mined_nonce, int(deep.result, 16)

    def _settle(self, entry: OutboxEntry, receipt: dict[str, Any], head: int) -> int:
        mined_in = int(receipt["blockNumber"], 16)
        if head - mined_in + 1 < self.confirmations:
            return 0
        entry.block_number = mined_in
        if int(receipt["status"], 16) == 1:
            entry.status = CONFIRMED
        elif WRITES[entry.kind].applied(self.ledger, entry.payload):
            entry.status = CONFIRMED
            entry.error = "already on chain"
        else:
            assert entry.tx_hash is not None
            reason = self._revert_reason(entry.tx_hash, mined_in)
            # Replayed on the state before its block, a write paused within that block decodes
            # as something else: the pause is read at the block too.
            paused = self.ledger.consortium.paused(block=mined_in)
            if paused or (isinstance(reason, ContractError) and reason.name in TRANSIENT_REVERTS):
                self._sign_again(entry, "refused for now: the ledger was paused")
                return 1
            if self._behind_open_write(entry):
                # An earlier write signed again (its nonce spent by another transaction) went
                # behind this one, which may need it (a version needs its dataset): in order now.
                self._sign_again(entry, f"reverted ahead of an earlier write still open ({reason})"[:900])
                return 1
            entry.status = FAILED
            entry.error = str(reason)[:1000]
        return 1

    def _unstick(self, unknown: list[OutboxEntry], mined_nonce: int) -> int:
        """Signed transactions the chain has no receipt for, in nonce order.

        Below the account's mined nonce, another transaction took the nonce: sign the write
        anew. At the mined nonce, the node may have dropped it: broadcast again. Above it with
        nothing of ours at the mined nonce, the transactions wait behind a gap no broadcast can
        fill: sign them anew from the gap, at a higher gas price so they replace the old ones.
        """
        spent = [e for e in unknown if e.nonce is not None and e.nonce < mined_nonce]
        if spent:
            again = self.ledger.rpc.call([("eth_getTransactionReceipt", [e.tx_hash]) for e in spent])
            for entry, reply in zip(spent, again):
                if reply.result is None:
                    self._sign_again(entry, f"nonce {entry.nonce} was spent by another transaction")
        waiting = [e for e in unknown if e.nonce is not None and e.nonce >= mined_nonce]
        if not waiting or min(self._age(e) for e in waiting) < self.resend_after:
            return len(spent)
        if waiting[0].nonce == mined_nonce:
            self._broadcast([e.raw_tx for e in waiting if e.raw_tx is not None])
            for entry in waiting:
                entry.updated_at = utcnow()
            return len(spent)
        for entry in waiting:
            self._sign_again(entry, f"waiting behind a nonce gap at {mined_nonce}")
        return len(spent) + len(waiting)

    @staticmethod
    def _behind_open_write(entry: OutboxEntry) -> bool:
        """Whether a write queued before ``entry`` is still unconfirmed: ``entry`` was then
        mined before it, out of the order the outbox keeps."""
        session = object_session(entry)
        assert session is not None
        return bool(session.scalar(select(func.count()).select_from(OutboxEntry).where(
            OutboxEntry.id < entry.id, OutboxEntry.status.in_((PENDING, SIGNED)))))

    def _sign_again(self, entry: OutboxEntry, why: str) -> None:
        entry.status = PENDING
        entry.error = f"{why}; signing again"
        self._resync = True

    @staticmethod
    def _age(entry: OutboxEntry) -> float:
        updated = entry.updated_at
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=timezone.utc)
        return (utcnow() - updated).total_seconds()

    def _revert_reason(self, tx_hash: str, block: int) -> LedgerError | Exception:
        return self.sender.revert_reason(HexBytes(tx_hash), block)

