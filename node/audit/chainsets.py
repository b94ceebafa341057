"""The chain's own list of a trace's items, read by indexed topic, never from the index.

For a dataset: the logs whose ``datasetId`` topic is the dataset, and the refusals (which name
only a grant) of the grants requested on it. For a consumer: the logs whose ``grantee`` or
``consumer`` topic is the consumer, the events naming only a grant of the grants it requested,
and its own attempts on others' grants (``actor``). Which of those logs belong to the trace is
decided by the rule the indexer files rows by (``node.chain.attribution``); topic positions come from
the contracts' ABIs, so a changed event layout changes the filters with it.

The list is kept per subject up to a block, trusted while the chain still has that block's hash,
and extended from the next block on. Each round of ``eth_getLogs`` is one JSON-RPC batch
bracketed by two reads of the block the index stands on, so a reorg during the read is noticed
rather than cached.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_abi.exceptions import DecodingError
from web3 import Web3
from web3.exceptions import MismatchedABI

from ledger.deploy import Ledger
from ledger.errors import BlockMissing, ChainReadFailed
from ledger.events import EventLayout, LogRecord, block_ranges
from ledger.rawlogs import checksum
from ledger.rpc import RpcBatcher
from node.chain.attribution import ATTEMPTS, CONSUMER_FIELDS, GRANT_REQUESTED, GrantTerms, place
from node.audit.settled import SettledRows
from node.errors import ChainMoved

Position = tuple[int, int]
"""(block number, log index): chain order."""
END = 2**62
"""A log index after every log of a block."""
FIELDS = ("datasetId", "grantId", "reason", "actor", *CONSUMER_FIELDS)
ADDRESSES = ("actor", *CONSUMER_FIELDS)


@dataclass(frozen=True)
class Subject:
    kind: Literal["dataset", "consumer"]
    key: str
    """A dataset id in lowercase 0x hex, or a checksummed address."""

    @classmethod
    def dataset(cls, dataset_id: str) -> Subject:
        return cls("dataset", dataset_id.lower())

    @classmethod
    def consumer(cls, address: str) -> Subject:
        return cls("consumer", Web3.to_checksum_address(address))

    @property
    def column(self) -> str:
        return "dataset_id" if self.kind == "dataset" else "consumer"

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True, slots=True)
class Filed:
    """One event and where it is filed: by the chain, or by the index (then with its row id)."""

    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    name: str
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None
    id: int | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.block_hash, self.tx_hash, self.log_index)

    @property
    def position(self) -> Position:
        return (self.block_number, self.log_index)

    def where(self) -> str:
        return f"{self.name} in block {self.block_number} log {self.log_index} (tx {self.tx_hash})"

    def under(self, subject: Subject) -> str:
        value = getattr(self, subject.column)
        return f"{subject.kind} {value}" if value else f"no {subject.kind}"


# ---------------------------------------------------------------- the chain's side


@dataclass(frozen=True, slots=True)
class _Log:
    """A raw log of a known event, with the arguments that file it read."""

    name: str
    args: dict[str, Any]
    position: Position
    block_hash: str
    tx_hash: str


@dataclass(frozen=True)
class _Grant:
    terms: GrantTerms
    position: Position


@dataclass
class _Known:
    """A subject's items on chain up to ``block``, in chain order, and the grants that file them."""

    block: int
    block_hash: str
    items: list[Filed] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    own: dict[str, _Grant] = field(default_factory=dict)
    """Grants requested under the subject: their events name only the grant."""
    grants: dict[str, _Grant] = field(default_factory=dict)
    """Every grant whose request was read, the subject's and those it attempted to use."""


def _topic(value: str) -> str:
    return "0x" + value[2:].lower().rjust(64, "0")


class ChainSets:
    """Reads which of the chain's logs belong to a subject, and keeps them per subject."""

    def __init__(self, ledger: Ledger, *, max_items: int = 500_000, span: int = 50_000, batch: int = 50) -> None:
        self.ledger = ledger
        self.max_items = max_items
        self.span = span
        self.batch = batch
        self._layouts = {(la.address.lower(), la.topic): la for la in ledger.events.layouts()}
        self._readable = {key: la.readable(FIELDS) for key, la in self._layouts.items()}
        self._sizes = {key: (1 + sum(where == "topic" for where, _, _ in la.places.values()),
                             sum(where == "data" for where, _, _ in la.places.values()))
                       for key, la in self._layouts.items() if len(la.readable(la.places)) == len(la.places)}
        """The topics and data words of the logs of events whose arguments are one word each."""
        self._known: OrderedDict[Subject, _Known] = OrderedDict()
        self._lock = threading.Lock()
        self._subject_locks: dict[Subject, threading.Lock] = {}
        self.settled = SettledRows()
        """Rows of settled logs verified reads keep, cleared whenever the chain is found moved."""

    def items(self, rpc: RpcBatcher, subject: Subject, block: int, block_hash: str) -> Sequence[Filed]:
        """The subject's items on chain up to ``block``, which must have ``block_hash``. A list
        already read that far is checked against the chain without the subject's lock, so that
        verified reads of one subject wait on the chain side by side, not one after another.
        The list kept is given as it is when it ends at ``block`` (copying a trace of 100,000
        items cost a verified page a millisecond): read it, never change it."""
        known = self._check(rpc, self._current(subject), block, block_hash)
        if known is None or known.block < block:
            with self._lock:
                lock = self._subject_locks.setdefault(subject, threading.Lock())
            with lock:
                current = self._current(subject)
                if current is not known:  # another read replaced it meanwhile
                    known = self._check(rpc, current, block, block_hash)
                if known is None or known.block < block:
                    known = self._extend(rpc, subject, known, block, block_hash)
                    self._keep(subject, known)
        end = bisect_right(known.positions, (block, END))
        return known.items if end == len(known.items) else known.items[:end]

    def _current(self, subject: Subject) -> _Known | None:
        with self._lock:
            return self._known.get(subject)

    def _check(self, rpc: RpcBatcher, known: _Known | None, block: int, block_hash: str) -> _Known | None:
        """``known`` if the chain still has the block it was read to, else None; ChainMoved if the
        chain no longer has ``block_hash`` at ``block``. Either clears the settled rows. One batch."""
        at = [block] if known is None or known.block == block else [block, known.block]
        hashes = self._hashes(rpc, at)
        if hashes[block] != block_hash:
            self.settled.clear()
            raise ChainMoved(block, block_hash, hashes[block] or "missing")
        if known is not None and hashes[known.block] != known.block_hash:
            self.settled.clear()
            return None  # a reorg replaced (or shortened) the chain the list was read from
        return known

    def _keep(self, subject: Subject, known: _Known) -> None:
        with self._lock:
            self._known[subject] = known
            self._known.move_to_end(subject)
            while len(self._known) > 1 and sum(len(k.items) for k in self._known.values()) > self.max_items:
                self._known.popitem(last=False)

    # ------------------------------------------------------------ reading logs

    def _hashes(self, rpc: RpcBatcher, numbers: Sequence[int]) -> dict[int, str | None]:
        """The chain's hash of each block, None for a block it does not have (yet, or any more)."""
        replies = rpc.call([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        hashes: dict[int, str | None] = {}
        for number, reply in zip(numbers, replies):
            if reply.error:
                raise BlockMissing(number, reply.message)
            hashes[number] = str(reply.result["hash"]) if reply.result else None
        return hashes

    def _logs(self, rpc: RpcBatcher, queries: list[dict[str, Any]], start: int, end: int,
              at: tuple[int, str]) -> list[_Log]:
        """Logs of known events matching any of ``queries`` in blocks ``start..end``, read in
        batches each between two reads of block ``at`` (a reply too large for the node is asked
        again alone, then split), each batch's replies read as they come."""
        header = ("eth_getBlockByNumber", [hex(at[0]), False])
        batched = deque((q, a, b) for q in queries for a, b in block_ranges(start, end, self.span))
        alone: deque[tuple[dict[str, Any], int, int]] = deque()
        logs: list[_Log] = []
        while batched or alone:
            solo = bool(alone)
            part = [alone.popleft()] if solo else [batched.popleft() for _ in range(min(self.batch, len(batched)))]
            replies = rpc.call([header, *(("eth_getLogs", [{**q, "fromBlock": hex(a), "toBlock": hex(b)}])
                                          for q, a, b in part), header])
            for reply in (replies[0], replies[-1]):
                found = str(reply.result["hash"]) if reply.result else reply.message or "missing"
                if found != at[1]:
                    self.settled.clear()
                    raise ChainMoved(at[0], at[1], found)
            for (q, a, b), reply in zip(part, replies[1:-1]):
                if reply.error is None:
                    logs += [log for log in map(self._read, reply.result or []) if log is not None]
                elif not solo:
                    alone.append((q, a, b))
                elif a < b:
                    alone += [(q, a, (a + b) // 2), (q, (a + b) // 2 + 1, b)]
                else:
                    raise ChainReadFailed(f"the logs of block {a}", reply.message)
        return logs

    def _queries(self, layouts: Iterable[EventLayout], argument: str, values: Sequence[str]) -> list[dict[str, Any]]:
        """``eth_getLogs`` filters for ``layouts`` whose ``argument`` is one of ``values``: by
        the topic holding it, or by event alone where it is not indexed (sorted out after)."""
        groups: dict[int, list[EventLayout]] = {}
        for layout in layouts:
            if layout.has(argument):
                groups.setdefault(layout.topic_of(argument) or 0, []).append(layout)
        queries = []
        for position, group in sorted(groups.items()):
            topics: list[Any] = [sorted({la.topic for la in group})]
            base = {"address": sorted({la.address for la in group})}
            if position == 0:
                queries.append({**base, "topics": topics})
                continue
            for start in range(0, len(values), 200):
                chosen = [_topic(v) for v in values[start : start + 200]]
                queries.append({**base, "topics": topics + [None] * (position - 1) + [chosen]})
        return queries

    # ------------------------------------------------------------ filing logs

    def _read(self, log: dict[str, Any]) -> _Log | None:
        key = (str(log["address"]).lower(), str(log["topics"][0]) if log["topics"] else "")
        layout = self._layouts.get(key)
        if layout is None or log.get("removed"):
            return None
        args = layout.read(log, self._readable[key])
        for name in ADDRESSES:
            if name in args:
                args[name] = checksum(args[name])
        return _Log(layout.name, args, (int(log["blockNumber"], 16), int(log["logIndex"], 16)),
                    str(log["blockHash"]), str(log["transactionHash"]))

    def row(self, log: dict[str, Any]) -> LogRecord | None:
        """The log read as the indexer reads it (:meth:`ledger.events.EventDecoder.record`), or
        None where the ABI decoder must say what it is: an event with an argument of more than
        one word, or a log irregular for its event (a word or topic too many or too few, a word
        the decoder refuses)."""
        size = self._sizes.get((str(log["address"]).lower(), str(log["topics"][0]) if log["topics"] else ""))
        if size is None or len(log["topics"]) != size[0] or len(str(log["data"])) != 2 + 64 * size[1]:
            return None
        try:
            return self.ledger.events.record(log)
        except (DecodingError, MismatchedABI, ValueError):
            return None

    @staticmethod
    def _file(log: _Log, grants: dict[str, _Grant], pool: dict[str, str] | None = None) -> Filed:
        grant = grants.get(log.args.get("grantId", ""))
        where = place(log.name, log.args, grant.terms if grant is not None and grant.position < log.position else None)
        pool = {} if pool is None else pool

        def one(value: str | None) -> str | None:
            return None if value is None else pool.setdefault(value, value)

        return Filed(log.position[0], log.position[1], pool.setdefault(log.block_hash, log.block_hash),
                     pool.setdefault(log.tx_hash, log.tx_hash), log.name, one(where.dataset_id), one(where.grant_id),
                     one(where.consumer))

    def file_logs(self, rpc: RpcBatcher, logs: Sequence[dict[str, Any] | None], at: tuple[int, str]) -> list[Filed | None]:
        """Where the chain files each of ``logs`` (up to block ``at``), reading the requests of
        the grants they name."""
        read = [self._read(log) if log is not None else None for log in logs]
        grants = self.requests(rpc, sorted({str(r.args["grantId"]) for r in read if r and "grantId" in r.args}), at)
        return [self._file(r, grants) if r is not None else None for r in read]

    def requests(self, rpc: RpcBatcher, grant_ids: Sequence[str], at: tuple[int, str]) -> dict[str, _Grant]:
        """The requests of ``grant_ids`` up to block ``at``."""
        if not grant_ids:
            return {}
        requested = [la for la in self._layouts.values() if la.name == GRANT_REQUESTED]
        logs = self._logs(rpc, self._queries(requested, "grantId", grant_ids), self.ledger.manifest.deployment_block,
                          at[0], at)
        return self._grants(logs, lambda filed: True)

    def _grants(self, logs: Iterable[_Log], keep: Callable[[Filed], bool]) -> dict[str, _Grant]:
        grants = {}
        for log in logs:
            if log.name == GRANT_REQUESTED:
                filed = self._file(log, {})
                if keep(filed):
                    assert filed.grant_id is not None and filed.dataset_id is not None and filed.consumer is not None
                    grants[filed.grant_id] = _Grant(GrantTerms(filed.dataset_id, filed.consumer), filed.position)
        return grants

    def _extend(self, rpc: RpcBatcher, subject: Subject, known: _Known | None, block: int, block_hash: str) -> _Known:
        """``known`` (None: nothing yet) extended through ``block``: first the logs naming the
        subject, then those naming only a grant of the grants requested under it, and the
        requests of other grants it attempted to use."""
        start = known.block + 1 if known else self.ledger.manifest.deployment_block
        own = dict(known.own) if known else {}
        grants = dict(known.grants) if known else {}
        at = (block, block_hash)
        layouts = list(self._layouts.values())
        fields = ("datasetId",) if subject.kind == "dataset" else CONSUMER_FIELDS
        direct = [q for f in fields for q in self._queries(layouts, f, [subject.key])]
        if subject.kind == "consumer":
            direct += self._queries([la for la in layouts if la.name in ATTEMPTS], "actor", [subject.key])
        logs = self._logs(rpc, direct, start, block, at)
        mine = self._grants(logs, lambda filed: getattr(filed, subject.column) == subject.key)
        own.update(mine)
        grants.update(mine)
        only_grant = [la for la in layouts if la.has("grantId") and not any(la.has(f) for f in fields)]
        if own:
            logs += self._logs(rpc, self._queries(only_grant, "grantId", sorted(own)), start, block, at)
        grants.update(self.requests(rpc, sorted({str(r.args["grantId"]) for r in logs if r.name in ATTEMPTS
                                                 and r.args.get("grantId") not in grants}), at))
        seen: set[tuple[str, str, int]] = set()
        found = []
        pool: dict[str, str] = {}  # one copy of each hash and id, as the list is kept for long
        for log in logs:
            filed = self._file(log, grants, pool)
            if filed.key not in seen and getattr(filed, subject.column) == subject.key:
                seen.add(filed.key)
                found.append(filed)
        found.sort(key=lambda f: f.position)
        items, positions = (known.items, known.positions) if known else ([], [])
        return _Known(block, block_hash, items + found, positions + [f.position for f in found], own, grants)
