"""The indexer: follows the contracts' events into SQL from a stored cursor.

It indexes only blocks ``confirmations`` deep, records the hash of each block it took events
from and of the block it stopped at, and before every step checks that the chain still has
that block: if not, a reorg undid part of what was indexed, so it walks back to the newest
block both agree on, deletes everything above it and indexes again from there. Each step is
one SQL transaction, so a restart at any point resumes from a consistent cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger.deploy import Ledger
from ledger.errors import BlockMissing
from ledger.events import ChainEvent, fetch_events
from node.chain.attribution import CONSUMER_FIELDS, GrantTerms, place
from node.models import ChainEventRow, Grant, IndexedBlock, IndexerCursor, Watermark
from node.chain.projections import project, reproject

CURSOR = "events"


def to_json(value: Any) -> Any:
    """Event arguments as JSON: bytes as 0x hex, big numbers as strings, tuples as lists."""
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else str(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def event_row(event: ChainEvent, block_time: int | None = None, grant: GrantTerms | None = None) -> ChainEventRow:
    """The row of ``event``, filed where ``node.chain.attribution.place`` says (with ``grant``, the
    event's grant as indexed before it, for events that name only a grant)."""
    args = {k: to_json(v) for k, v in event.args.items()}
    where = place(event.name, args, grant)
    return ChainEventRow(
        block_number=event.block_number,
        block_hash=event.block_hash.to_0x_hex(),
        block_time=block_time,
        tx_hash=event.tx_hash.to_0x_hex(),
        log_index=event.log_index,
        contract=event.contract,
        name=event.name,
        args=args,
        dataset_id=where.dataset_id,
        grant_id=where.grant_id,
        consumer=where.consumer,
    )


def _indexed_grant(session: Session, event: ChainEvent) -> GrantTerms | None:
    """The event's grant as indexed so far (projected from its request, earlier in the chain),
    where the event does not name its dataset and consumer itself."""
    args, grant_id = event.args, event.args.get("grantId")
    if grant_id is None or ("datasetId" in args and any(k in args for k in CONSUMER_FIELDS)):
        return None
    grant = session.get(Grant, to_json(grant_id))
    return GrantTerms(grant.dataset_id, grant.grantee) if grant is not None else None


class Indexer:
    def __init__(self, sessions: sessionmaker[Session], ledger: Ledger, *, confirmations: int = 1,
                 chunk: int = 2000, until: int | None = None) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.confirmations = confirmations
        self.chunk = chunk
        self.until = until
        """The last block to index, if not the chain's head (``node reindex`` stops at the live cursor)."""

    def step(self) -> int:
        """Index the next chunk of confirmed blocks; returns the number of events taken."""
        w3 = self.ledger.w3
        with self.sessions() as session:
            cursor = session.get(IndexerCursor, CURSOR)
            if cursor is not None and self._chain_hash(cursor.block_number) != cursor.block_hash:
                self._roll_back(session, self._fork_point(session))
                session.commit()
                cursor = session.get(IndexerCursor, CURSOR)
            start = cursor.block_number + 1 if cursor else self.ledger.manifest.deployment_block
            safe = w3.eth.block_number - max(self.confirmations - 1, 0)
            if self.until is not None:
                safe = min(safe, self.until)
            end = min(safe, start + self.chunk - 1)
            if end < start:
                return 0
            events = list(fetch_events(w3, self.ledger.events, start, end, chunk=self.chunk))
            self._store(session, events, end)
            session.commit()
            return len(events)

    def catch_up(self) -> int:
        total = 0
        while True:
            taken = self.step()
            total += taken
            with self.sessions() as session:
                cursor = session.get(IndexerCursor, CURSOR)
                behind = cursor is None or cursor.block_number < self.ledger.w3.eth.block_number - max(
                    self.confirmations - 1, 0)
            if not behind and taken == 0:
                return total

    # ------------------------------------------------------------ internals

    def _chain_hash(self, number: int) -> str | None:
        block = self.ledger.w3.eth.get_block(number)
        return block["hash"].to_0x_hex() if block else None

    def _headers(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        """The headers of blocks ``numbers``, fetched in JSON-RPC batches."""
        headers: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), 500):
            part = numbers[start : start + 500]
            replies = self.ledger.rpc.call([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for number, reply in zip(part, replies):
                if reply.error or not reply.result:
                    raise BlockMissing(number, reply.message or "missing")
                headers[number] = reply.result
        return headers

    def _store(self, session: Session, events: list[ChainEvent], end: int) -> None:
        headers = self._headers(sorted({e.block_number for e in events} | {end}))
        # The session's identity map holds rows weakly: keep those the projections read (a grant
        # read again at each of its uses) for the step, so they are read from SQL once, not per event.
        held: list[object] = []

        def hold(_session: Session, instance: object) -> None:
            held.append(instance)

        event.listen(session, "loaded_as_persistent", hold)
        try:
            for chain_event in events:
                row = event_row(chain_event, int(headers[chain_event.block_number]["timestamp"], 16),
                                _indexed_grant(session, chain_event))
                session.add(row)
                project(session, row)
        finally:
            event.remove(session, "loaded_as_persistent", hold)
        for number, header in headers.items():
            session.merge(IndexedBlock(number=number, hash=header["hash"], parent_hash=header["parentHash"]))
        session.merge(IndexerCursor(name=CURSOR, block_number=end, block_hash=headers[end]["hash"]))

    def _fork_point(self, session: Session) -> int:
        """The newest indexed block the chain still has, by hash."""
        known = session.scalars(select(IndexedBlock).order_by(IndexedBlock.number.desc())).all()
        for block in known:
            if self._chain_hash(block.number) == block.hash:
                return block.number
        return self.ledger.manifest.deployment_block - 1

    def _roll_back(self, session: Session, fork: int) -> None:
        undone = session.scalars(select(ChainEventRow).where(ChainEventRow.block_number > fork)).all()
        touched = touched_keys(undone)
        session.execute(delete(ChainEventRow).where(ChainEventRow.block_number > fork))
        session.execute(delete(IndexedBlock).where(IndexedBlock.number > fork))
        # Followers (the monitor) read on from the events they saw: the events indexed again may
        # get the ids of those undone (SQLite reuses them), so they read them again (alerts are
        # keyed, so a sighting replayed is one alert).
        kept = session.scalar(select(func.max(ChainEventRow.id))) or 0
        session.execute(update(Watermark).where(Watermark.value > kept).values(value=kept))
        fork_hash = self._chain_hash(fork) if fork >= 0 else None
        session.merge(IndexerCursor(name=CURSOR, block_number=fork, block_hash=fork_hash or "0x" + "00" * 32))
        session.flush()
        reproject(session, fork, touched)


def touched_keys(rows: Iterable[ChainEventRow]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {"grant": set(), "issue": set(), "frozen": set(), "metadata": set()}
    for row in rows:
        if row.name in ("DatasetFrozen", "DatasetUnfrozen") and row.dataset_id:
            keys["frozen"].add(row.dataset_id)
        if row.name == "MetadataUpdated" and row.dataset_id:
            keys["metadata"].add(row.dataset_id)
        if row.grant_id:
            keys["grant"].add(row.grant_id)
        if "issueId" in row.args:
            keys["issue"].add(row.args["issueId"])
    return keys
