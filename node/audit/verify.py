"""Verification against the chain: a file against its anchored root, an indexed row against
the log it came from, a stored proof against its anchored root. Each failure says precisely
what differs: which file and chunk, which row and column, which proof and node."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.types import LogReceipt

from ledger.deploy import Ledger
from ledger.errors import ContractError
from ledger.events import ChainEvent, LogRecord, log_from_json
from ledger.merkle import MerkleTree, leaf_hash, root_from_proof
from node.audit.chainsets import ChainSets
from node.chain.anchoring import proof_of
from node.errors import DecryptionFailed, NotFound
from node.chain.indexer import event_row
from node.models import AnchorBatch, AnchorItem, ChainEventRow, DatasetVersion
from node.store import PLAIN, DataStore

T = TypeVar("T")

ROW_COLUMNS = ("block_number", "block_hash", "tx_hash", "log_index", "contract", "name", "args")
_ROW = attrgetter(*ROW_COLUMNS)


@dataclass
class Report:
    """What was checked, whether it held, and each difference found."""

    subject: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return f"{self.subject}: " + ("verified" if self.ok else "; ".join(self.problems))


def _get(session: Session, model: type[T], key: int, label: str) -> T:
    row = session.get(model, key)
    if row is None:
        raise NotFound(label, str(key))
    return row


# ---------------------------------------------------------------- files


def verify_version_files(session: Session, ledger: Ledger, version_id: int, path: Path | None = None,
                         store: DataStore = PLAIN) -> Report:
    """Hash the version's content again, as ``store`` reads it (the plaintext of a file kept
    encrypted), and compare it with the root anchored on-chain."""
    version = _get(session, DatasetVersion, version_id, "version")
    report = Report(f"dataset {version.dataset_id} version root {version.content_root}")
    dataset = bytes.fromhex(version.dataset_id[2:])
    number = ledger.registry.version_of_root(dataset, bytes.fromhex(version.content_root[2:]))
    if number == 0:
        report.problems.append("the chain holds no version with this content root")
        return report
    source = Path(path or version.source_path)
    try:
        current = store.root_of(source, version.chunk_size)
    except OSError as err:
        report.problems.append(f"the content cannot be read at {source}: {err.strerror or err}")
        return report
    except DecryptionFailed as err:
        report.problems.append(f"the content at {source} does not authenticate: {err.reason}")
        return report
    if "0x" + current.root.hex() == version.content_root:
        return report
    stored = {f.path: f for f in version.files}
    seen = {f.path: f for f in current.files}
    for name in sorted(stored.keys() - seen.keys()):
        report.problems.append(f"file {name} is missing")
    for name in sorted(seen.keys() - stored.keys()):
        report.problems.append(f"file {name} was added")
    for name in sorted(stored.keys() & seen.keys()):
        digests = [stored[name].chunk_digests[i : i + 32] for i in range(0, len(stored[name].chunk_digests), 32)]
        now = list(seen[name].chunk_digests)
        changed = [i for i, (a, b) in enumerate(zip(digests, now)) if a != b]
        if len(digests) != len(now):
            report.problems.append(f"file {name} has {len(now)} chunks where {len(digests)} were anchored")
        for index in changed:
            start = index * version.chunk_size
            report.problems.append(f"file {name} chunk {index} (bytes {start}-{start + version.chunk_size - 1}) differs")
    if not report.problems:
        report.problems.append("content root differs from the anchored one")
    return report


# ---------------------------------------------------------------- indexed rows


def _compare(report: Report, ours: Any, chain: Any) -> Report:
    """Compare an indexed event (a row or a trace item) with what the chain says of the log at
    its index in its block (a row's columns, or None where the block has no known log there)."""
    if chain is None:
        report.problems.append(f"block {ours.block_hash} has no provledger log at index {ours.log_index}")
        return report
    if _ROW(ours) == _ROW(chain):  # nearly always: the columns compared one by one only to say what differs
        return report
    for column in ROW_COLUMNS:
        mine, theirs = getattr(ours, column), getattr(chain, column)
        if column == "args":
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key) != theirs.get(key):
                    report.problems.append(f"column args.{key} is {mine.get(key)!r}, the chain says {theirs.get(key)!r}")
        elif mine != theirs:
            report.problems.append(f"column {column} is {mine!r}, the chain says {theirs!r}")
    return report


def _decoded(log: LogReceipt | None, decode: Callable[[LogReceipt], ChainEvent | None]) -> ChainEventRow | None:
    event = decode(log) if log is not None else None
    return event_row(event) if event is not None else None


def _subject(ours: Any) -> str:
    return f"indexed event {ours.id} ({ours.name} in block {ours.block_number}, log {ours.log_index})"


def verify_event_row(session: Session, ledger: Ledger, row_id: int) -> Report:
    """Fetch the log the row claims to come from and compare every column."""
    row = _get(session, ChainEventRow, row_id, "indexed event")
    logs = ledger.w3.eth.get_logs({"blockHash": row.block_hash, "address": ledger.events.addresses})  # type: ignore[typeddict-item]
    at = next((log for log in logs if log["logIndex"] == row.log_index), None)
    return _compare(Report(_subject(row)), row, _decoded(at, ledger.events.decode))


def verify_events(ledger: Ledger, items: Sequence[Any], chain: ChainSets | None = None,
                  settled: int | None = None) -> list[Report]:
    """Verify many indexed events (rows or trace items) at once: one batch of ``eth_getLogs``
    by block hash, one log list per block however many events it holds, of which only the logs
    at the items' own indexes are read (a block of 500 uses is one list, and a page of it reads
    the 100 it shows); with ``chain``, each read by the indexer's reader where its arguments are
    one word each (:meth:`ChainSets.row`), else decoded by web3's decoder. With ``chain`` and
    ``settled`` (the block the index stands on, just found the chain's, with the trace complete
    through it), what the chain says of logs at or below it is kept in ``chain.settled`` and not
    asked again."""
    kept = chain.settled if chain is not None and settled is not None else None
    known: dict[tuple[str, int], LogRecord | ChainEventRow] = {key: row for key in {(item.block_hash, item.log_index) for item in items}
             if kept is not None and (row := kept.get(key)) is not None}
    rpc = ledger.rpc
    blocks = sorted({item.block_hash for item in items if (item.block_hash, item.log_index) not in known})
    raw: dict[tuple[str, int], dict[str, Any]] = {}
    for start in range(0, len(blocks), 200):
        part = blocks[start : start + 200]
        replies = rpc.call([("eth_getLogs", [{"blockHash": h, "address": ledger.events.addresses}]) for h in part])
        for block_hash, reply in zip(part, replies):
            for log in reply.result or []:
                raw.setdefault((block_hash, int(log["logIndex"], 16)), log)

    def said(item: Any) -> LogRecord | ChainEventRow | None:
        key = (item.block_hash, item.log_index)
        if key in known:
            return known[key]
        log = raw.get(key)
        if log is None:
            return None
        row = (chain.row(log) if chain is not None else None) or _decoded(log_from_json(log), ledger.events.decode)
        if kept is not None and settled is not None and row is not None and row.block_number <= settled:
            kept.put(key, row)
        return row

    return [_compare(Report(_subject(item)), item, said(item)) for item in items]


# ---------------------------------------------------------------- proofs


def verify_anchor_item(session: Session, ledger: Ledger, item_id: int) -> Report:
    """Check the item's stored proof leads to its batch's root, and that root is on-chain."""
    item = _get(session, AnchorItem, item_id, "anchored item")
    report = Report(f"proof of item {item_id} ({item.item})")
    if item.batch_id is None:
        report.problems.append("not sealed into a batch yet")
        return report
    batch = session.get(AnchorBatch, item.batch_id)
    assert batch is not None
    root = bytes.fromhex(batch.root[2:])
    assert ledger.sender is not None, "a node verifies its own department's anchors"
    department = ledger.consortium.department_of(ledger.sender.address)
    try:
        anchored = ledger.anchors.anchor_of(department, root)
        if anchored.leaf_count != batch.leaf_count:
            report.problems.append(f"batch holds {batch.leaf_count} items, the chain says {anchored.leaf_count}")
    except ContractError:
        report.problems.append(f"root {batch.root} is not anchored on-chain by this department")
    proof = proof_of(item)
    try:
        calculated = root_from_proof(leaf_hash(bytes.fromhex(item.item[2:])), proof)
    except ValueError as err:
        report.problems.append(str(err))
        return report
    if calculated != root:
        report.problems.append(f"proof leads to 0x{calculated.hex()}, not the anchored root{_bad_node(session, item, proof)}")
    return report


def _bad_node(session: Session, item: AnchorItem, proof: list[bytes]) -> str:
    """Rebuild the batch's tree from its items to name the proof node that was changed."""
    items = session.scalars(select(AnchorItem.item).where(AnchorItem.batch_id == item.batch_id)
                            .order_by(AnchorItem.leaf_index)).all()
    if item.leaf_index is None or not items:
        return ""
    expected = MerkleTree.from_items([bytes.fromhex(i[2:]) for i in items]).proof(item.leaf_index)
    wrong = [i for i, (a, b) in enumerate(zip(proof, expected)) if a != b]
    if len(proof) != len(expected):
        return f" (it has {len(proof)} nodes where {len(expected)} belong)"
    return f" (proof node {wrong[0]} was changed)" if wrong else " (the item itself differs)"
