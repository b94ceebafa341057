"""Uses at a sustained rate on the 3-department consortium, through the real node: one geth per
department sealing Clique blocks every second (``node.consortium.up`` in a temporary folder,
always brought down), each department's node service running with its outbox.

The first department owns a dataset and the second holds grants on it. For ``seconds``, uses
are queued at ``rate`` into the owner's outbox the way deliveries queue them
(:func:`node.access.uses.queue_uses`, batches of :data:`~node.access.uses.BATCH_SIZE`); its
outbox sends them, several transactions a block, and its indexer and monitor follow the chain.
Measured: the uses landed on chain per second over the window (blocks timestamped within it);
how long after its block's timestamp each use became a row of the owner's index; and, for a few
grants of ``QUOTA`` uses used once past it during the load, how long after the refusing block's
timestamp the owner's monitor wrote its ``refused`` alert (and after the uses were queued).
Baselines: one ``recordUse`` transaction per use on the same consortium, and Besu QBFT's
published throughput."""

from __future__ import annotations

import hashlib
import tempfile
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from ledger import ids
from ledger.clients import Action, Rights, Use
from ledger.deploy import Ledger, Manifest, department_id
from ledger.geth import clique_web3
from ledger.tx import TransactionSender, load_keystore
from ledger.waiting import WaitTimedOut, wait_for
from node.access.uses import BATCH_SIZE, UseRequest, queue_uses
from node.chain.outbox import enqueue
from node.consortium import GAS_PRICE, Consortium, up
from node.models import OutboxEntry
from node.models import Use as UseRow
from node.service import NodeService, load_artifacts
from scripts.bench_figures import Figure, timed
from scripts.bench_watch import Watch, quantiles

BESU_QBFT_TPS = 750.0
"""Hyperledger Besu's published QBFT throughput, transactions a second: the baseline a
permissioned chain is usually held to (one use would be one transaction there)."""
QUOTA = 3
"""Uses of each grant that is used past its quota during the load."""


def _grantee(consortium: Consortium, code: str, manifest: Manifest) -> Ledger:
    """The grantee department's service account through its own geth, one block deep."""
    folder = consortium.directory / code
    account = load_keystore(folder / "keys" / "service.json", (folder / "passphrase").read_text().strip())
    sender = TransactionSender(clique_web3(consortium.nodes[code].url), account, confirmations=1, poll_interval=0.02)
    sender.gas_price = GAS_PRICE
    return Ledger(sender.w3, manifest, load_artifacts(), sender)


def digest(*parts: object) -> bytes:
    return hashlib.sha256(" ".join(map(str, parts)).encode()).digest()


def _grants(owner: NodeService, grantee: Ledger, owner_code: str, max_uses: list[int]) -> list[bytes]:
    """Grants of ``max_uses`` each on a new dataset of the owner, requested pipelined and
    approved through the owner's outbox; returns their ids once the owner's chain holds them."""
    ledger, sender = owner.ledger, grantee.sender
    assert sender is not None
    ledger.registry.register_dataset(digest("bench dataset"), metadata="{}", category=b"\x02" * 32, grade=1,
                                     update_interval=0, rights=Rights(department_id(owner_code)))
    dataset = ids.dataset_id(department_id(owner_code), digest("bench dataset"))
    sent = [sender.send(grantee.grants.encode_call("requestAccess", digest("grant", i), (
        dataset, "a test of the ledger", b"\x00" * 32, [], Action.mask(Action.DOWNLOAD), 10**8, uses)))
        for i, uses in enumerate(max_uses)]
    block = int(sender.wait(sent[-1])["blockNumber"])
    _reach(ledger, block)
    grants = [ids.grant_id(sender.address, digest("grant", i)) for i in range(len(max_uses))]
    with owner.sessions() as session:
        for grant in grants:
            enqueue(session, key=f"approve:{grant.hex()}", kind="approve",
                    payload={"grant_id": "0x" + grant.hex(), "reason_hash": "0x" + "00" * 32, "price_per_use": 0})
        session.commit()
    return grants


def _reach(ledger: Ledger, block: int, timeout: float = 60.0) -> None:
    """Wait until the node behind ``ledger`` holds ``block``: a write seen on one geth, read on another."""
    wait_for(lambda: True if ledger.w3.eth.block_number >= block else None, timeout=timeout, what=f"block {block}",
             interval=0.1)


def use_requests(grant: bytes, first: int, count: int, tag: str = "use") -> list[UseRequest]:
    return [UseRequest("0x" + digest(tag, i).hex(), "0x" + grant.hex(), Action.DOWNLOAD, "0x" + digest("evidence", tag, i).hex())
            for i in range(first, first + count)]


def _queue(owner: NodeService, requests: list[UseRequest]) -> list[int]:
    """Queue ``requests`` as deliveries do; the outbox entries' ids."""
    with owner.sessions() as session:
        entries = queue_uses(session, requests)
        session.commit()
        return [entry.id for entry in entries]


def feed_due(owner: NodeService, grant: bytes, rate: int, start: float, fed: int, tag: str = "use") -> int:
    """Queue the uses of ``grant`` due at ``rate`` since ``start`` (wall clock) and not yet
    queued, in full batches; returns how many are queued now."""
    due = int((time.time() - start) * rate) // BATCH_SIZE * BATCH_SIZE
    if due <= fed:
        return fed
    _queue(owner, use_requests(grant, fed, due - fed, tag))
    return due


def _settle_within(probe: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Whether ``probe`` came true within ``timeout``: a figure reports what it did not reach."""
    try:
        return wait_for(lambda: True if probe() else None, timeout=timeout, what="the bench", interval=interval)
    except WaitTimedOut:
        return False


def _one_by_one(owner: NodeService, grant: bytes, count: int) -> float:
    """Seconds for ``count`` uses as one ``recordUse`` transaction each, each awaited one block
    deep, sent by the owner's account between its outbox's steps (its nonces are shared)."""
    sender = owner.sender

    def run() -> None:
        for i in range(count):
            use = Use(grant, Action.DOWNLOAD, digest("single evidence", i))
            sender.wait(sender.send(owner.ledger.usage.encode_call("recordUse", digest("single", i), use.as_tuple())),
                        confirmations=1)

    seconds, _ = timed(run)
    return seconds


def _landed(owner: NodeService, since: int) -> dict[int, int]:
    """Uses per block of the record_uses entries the owner's outbox confirmed after entry ``since``."""
    with owner.sessions() as session:
        entries = session.scalars(select(OutboxEntry).where(OutboxEntry.id > since,
                                                            OutboxEntry.kind == "record_uses")).all()
        per_block: Counter[int] = Counter()
        for entry in entries:
            assert entry.status == "confirmed" and entry.block_number is not None, (entry.id, entry.status, entry.error)
            per_block[entry.block_number] += len(entry.payload["uses"])
    return dict(per_block)


def _say(text: str) -> None:
    print(f"  consortium: {text}", file=sys.stderr, flush=True)


def _blocks_of(owner: NodeService, entries: dict[str, int]) -> dict[str, int]:
    """The block each of ``entries`` (outbox entry ids, by key) landed in."""
    with owner.sessions() as session:
        blocks = {key: session.get(OutboxEntry, entry) for key, entry in entries.items()}
        return {key: e.block_number for key, e in blocks.items() if e is not None and e.block_number is not None}


def _timestamps(ledger: Ledger, blocks: list[int]) -> dict[int, int]:
    replies = ledger.rpc.call([("eth_getBlockByNumber", [hex(b), False]) for b in blocks])
    return {b: int(r.result["timestamp"], 16) for b, r in zip(blocks, replies)}


def _load(owner: NodeService, grant: bytes, refusal_grants: list[bytes], rate: int, seconds: float
          ) -> tuple[float, int, dict[str, tuple[float, int]]]:
    """Queue uses of ``grant`` at ``rate`` for ``seconds`` in full batches, and, spread over the
    window, each refusal grant's quota and one use past it. Returns the start (wall clock), the
    uses of ``grant`` queued, and for each refusal grant when its uses were queued and the outbox
    entry that carries them."""
    start = time.time()
    fed, queued_at = 0, {}
    spread = [start + (k + 1) * seconds / (len(refusal_grants) + 1) for k in range(len(refusal_grants))]
    while (now := time.time()) < start + seconds:
        fed = feed_due(owner, grant, rate, start, fed)
        for k, at in enumerate(spread):
            if now >= at and k not in queued_at:
                [entry] = _queue(owner, use_requests(refusal_grants[k], 0, QUOTA + 1, tag=f"refusal {k}"))
                queued_at[k] = (time.time(), entry)
        time.sleep(0.02)
    return start, fed, {"0x" + refusal_grants[k].hex(): at for k, at in queued_at.items()}


def bench_consortium(seconds: float, rate: int, single_uses: int, refusals: int = 5,
                     drain_timeout: float = 900.0, followers: tuple[str, ...] = ("indexer", "monitor"),
                     gas_limit: int | None = None) -> list[Figure]:
    """``followers``: the owner's loops run beside its outbox (none, to see the chain and the
    outbox alone: the index and alert figures are then empty). ``gas_limit``: the consortium's
    block gas limit (default the consortium's own default)."""
    artifacts = load_artifacts()
    with tempfile.TemporaryDirectory(prefix="provledger-bench-consortium-") as tmp:
        started, consortium = timed(lambda: up(Path(tmp), 3, artifacts=artifacts, light_kdf=True,
                                                     gas_limit=gas_limit))
        stop = threading.Event()
        block_gas = consortium.gas_limit
        try:
            owner_code, grantee_code = list(consortium.members)[:2]
            owner_node = consortium.services[owner_code]
            owner = owner_node.service
            grantee = _grantee(consortium, grantee_code, Manifest.load(consortium.manifest_path))
            grant, *refusal_grants = _grants(owner, grantee, owner_code,
                                             [int(rate * seconds * 2) + single_uses] + [QUOTA] * refusals)
            owner_node.wait_idle()
            # The consortium's node services send their outboxes; the owner's index and monitor
            # follow the chain here, as `provledger node run` runs them.
            for name in followers:
                threading.Thread(target=owner.workers[name].run, args=(stop,), name=f"bench-{name}", daemon=True).start()
            single_time = _one_by_one(owner, grant, single_uses)
            _say(f"{single_uses} uses one transaction each in {single_time:.1f} s; feeding {rate:,} uses/s "
                 f"for {seconds:.0f} s")
            with owner.sessions() as session:
                since = session.scalar(select(func.max(OutboxEntry.id))) or 0
            watch = Watch(owner.sessions, {"0x" + g.hex() for g in refusal_grants}).start()
            start, fed, refusals_queued = _load(owner, grant, refusal_grants, rate, seconds)
            fed_seconds = time.time() - start
            _say(f"{fed:,} uses fed in {fed_seconds:.1f} s; waiting for the outbox")
            owner_node.wait_idle(timeout=600)
            drained = time.time() - start
            _say(f"outbox empty {drained:.1f} s after the start; waiting for the index and the alerts")
            per_block = _landed(owner, since)
            landed_total = sum(per_block.values())
            _settle_within(lambda: watch.uses_seen >= landed_total, drain_timeout, 1.0)
            _settle_within(lambda: len(watch.alerts) == len(refusal_grants), drain_timeout, 0.5)
            watch.stop()
            indexed = watch.uses_seen
            times = _timestamps(owner.ledger, sorted(per_block))
            validators = {m.validator.lower(): code for code, m in consortium.members.items()}
            sealed_by = {b: validators.get(str(consortium.nodes[owner_code].control("clique_getSigner", [hex(b)])).lower(),
                                           "?") for b in sorted(per_block)}
            refused_blocks = _blocks_of(owner, {grant: entry for grant, (_, entry) in refusals_queued.items()})
            refused_times = _timestamps(owner.ledger, sorted(set(refused_blocks.values())))
            with owner.sessions() as session:
                rows = session.scalar(select(func.count()).select_from(UseRow).where(
                    UseRow.grant_id == "0x" + grant.hex())) or 0
        finally:
            stop.set()
            consortium.close()
    window = [uses for block, uses in per_block.items() if start < times[block] <= start + seconds]
    sustained = sum(window) / seconds
    lag = quantiles(watch.lag_per_use())
    from_block = quantiles([watch.alerts[g] - refused_times[refused_blocks[g]] for g in watch.alerts])
    from_queue = quantiles([watch.alerts[g] - refusals_queued[g][0] for g in watch.alerts])
    per_second: Counter[int] = Counter()
    for block, uses in per_block.items():
        per_second[times[block] - int(start)] += uses
    raw: dict[str, Any] = {
        "up_seconds": started, "rate": rate, "seconds": seconds, "fed_seconds": fed_seconds, "uses_fed": fed,
        "uses_landed": landed_total, "uses_landed_in_window": sum(window), "drained_seconds": drained,
        "uses_indexed": indexed, "use_rows_of_grant": rows, "blocks": len(per_block),
        "uses_per_block": [per_block[b] for b in sorted(per_block)],
        "sealed_by": [sealed_by[b] for b in sorted(per_block)], "owner": owner_code, "uses_per_second": dict(sorted(per_second.items())),
        "single_uses": single_uses, "single_seconds": single_time, "index_lag": lag,
        "alert_from_block": from_block, "alert_from_queueing": from_queue, "alerts": len(watch.alerts),
        "refusals": len(refusal_grants), "indexer": "node.chain.indexer as in this tree",
        "outbox_open": [(round(t - start, 2), n) for t, n in watch.backlog], "gas_limit": block_gas,
    }
    name = f"uses recorded and grant-checked per second sustained over {seconds:.0f} s, 3-department consortium " \
           "(geth Clique, 1 s blocks), queued into the owner's outbox"
    return [
        Figure(name, sustained, "uses/s", single_uses / single_time, "one transaction per use", ">= 5,000", raw=raw),
        Figure(name, sustained, "uses/s", BESU_QBFT_TPS, "Besu QBFT, published tps", ">= 5,000"),
        Figure("uses indexed by the owner's node by the end, share of uses landed", 100 * indexed / max(landed_total, 1),
               "%", None, "", "100%"),
        Figure("index lag under that load, p50 (block timestamp -> use row in the owner's index)", lag["p50"], "s",
               None, "", "—"),
        Figure("index lag under that load, p95", lag["p95"], "s", None, "", "<= 3 s"),
        Figure("over-quota alert under that load, p50 (refusing block's timestamp -> alert row)", from_block["p50"],
               "s", None, "", "—"),
        Figure("over-quota alert under that load, p95", from_block["p95"], "s", None, "", "<= 3 s"),
    ]
