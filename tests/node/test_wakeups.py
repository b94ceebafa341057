"""Idle loops wait long, and work wakes them: a write queued in the node wakes its outbox, a write
confirmed wakes its indexer, events indexed wake its monitor, an item to anchor wakes anchoring.
Every loop here waits an hour when it finds nothing to do, so the use below reaches the chain,
the index and the monitor only if each loop is woken by the one before it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from ledger.clients import Action, AnchorKind
from ledger.errors import ChainUnavailable
from ledger.waiting import wait_for
from node.access.uses import UseRequest, queue_uses
from node.audit.monitor import WATERMARK
from node.chain.anchoring import add_item
from node.chain.outbox import CONFIRMED
from node.chain.indexer import CURSOR
from node.models import AnchorItem, ChainEventRow, IndexerCursor, OutboxEntry, Watermark
from node.service import NodeService
from node.settings import NodeSettings
from node.supervision import Supervised
from tests.utils.ledgers import Suite, approved_grant

AN_HOUR = 3600.0
BOUND = 120.0
"""How long the test waits for each step at most: far less than the loops' idle wait."""


@contextmanager
def idle_an_hour(service: NodeService) -> Iterator[None]:
    """The node's loops running, each waiting an hour whenever it finds nothing to do; inside,
    each has done its first step (the indexer and monitor read through the chain so far). Work
    under way (a write sent, not yet mined) is still looked at every ``poll``: nothing announces
    its end (a slow chain mines a write after the step that sent it looked)."""
    for loop in service.workers.values():
        loop.idle = loop.idle_max = AN_HOUR
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        for name, loop in service.workers.items():
            wait_for(lambda: loop.health(AN_HOUR).last_success_age, timeout=BOUND, what=f"the {name}'s first step")
        yield
    finally:
        stop.set()
        thread.join(timeout=BOUND)
    assert not thread.is_alive(), "the loops did not stop when told, in the middle of an hour's wait"


def test_the_idle_wait_doubles_up_to_its_cap_and_starts_over_after_work() -> None:
    busy = threading.Event()
    loop = Supervised("outbox", lambda: 0, idle=0.05, idle_max=0.4, busy=busy.is_set)
    assert [loop.delay_after(loop.attempt()) for _ in range(6)] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert loop.delay_after(2) == 0 and loop.delay_after(loop.attempt()) == 0.05
    busy.set()  # work under way that a step finishes: the loop keeps looking often
    assert [loop.delay_after(loop.attempt()) for _ in range(3)] == [0.05, 0.05, 0.05]
    busy.clear()
    assert [loop.delay_after(loop.attempt()) for _ in range(2)] == [0.05, 0.1]


def test_work_under_way_is_looked_at_every_poll_however_long_the_idle_wait() -> None:
    # A write sent and not yet mined: no wake-up announces its mining, so an hour's idle wait
    # must not hold its confirmation back.
    sent = threading.Event()
    sent.set()
    loop = Supervised("outbox", lambda: 0, idle=AN_HOUR, idle_max=AN_HOUR, busy=sent.is_set, poll=0.05)
    assert [loop.delay_after(loop.attempt()) for _ in range(3)] == [0.05, 0.05, 0.05]
    sent.clear()
    assert loop.delay_after(loop.attempt()) == AN_HOUR
    assert Supervised("anchors", lambda: 0, idle=0.2, busy=lambda: True).poll == 0.2


def test_a_failing_look_for_work_under_way_fails_the_step_and_never_ends_the_loop() -> None:
    def busy() -> bool:
        raise ChainUnavailable("http://127.0.0.1:9")

    loop = Supervised("outbox", lambda: 0, idle=0.05, idle_max=0.4, busy=busy, first_retry=0.5)
    assert loop.attempt() is None and loop.delay_after(None) == 0.5
    assert loop.health(60).failures == 1
    assert Supervised("fixed", lambda: 0, idle=0.2).delay_after(0) == 0.2


def test_a_nudge_ends_a_long_idle_wait() -> None:
    calls: list[int] = []
    stepped = threading.Semaphore(0)

    def step() -> int:
        calls.append(len(calls))
        stepped.release()
        return 0

    loop = Supervised("monitor", step, idle=AN_HOUR)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert stepped.acquire(timeout=BOUND)
        loop.nudge()
        assert stepped.acquire(timeout=BOUND), "the nudge did not end the wait"
    finally:
        stop.set()
        loop.nudge()
        thread.join(timeout=BOUND)
    assert not thread.is_alive() and len(calls) >= 2


def test_a_queued_use_wakes_the_outbox_then_the_indexer_then_the_monitor(service: NodeService, suite: Suite) -> None:
    owner, holder = suite.departments[0], suite.consumers[0]
    _, grant = approved_grant(owner, holder, f"wake-ups {service.settings.sql_url}", Action.QUERY)
    with idle_an_hour(service):
        head = owner.w3.eth.block_number

        def current() -> bool | None:
            with service.sessions() as session:
                cursor = session.get(IndexerCursor, CURSOR)
                return cursor is not None and cursor.block_number >= head or None

        wait_for(current, timeout=BOUND, what="the index to reach the head")
        use = hashlib.sha256(b"wake-ups " + service.settings.sql_url.encode()).hexdigest()
        with service.sessions() as session:
            [entry] = queue_uses(session, [UseRequest("0x" + use, "0x" + grant.hex(), Action.QUERY, "0x" + "ee" * 32)])
            session.commit()
            key = entry.key

        def confirmed() -> bool | None:
            with service.sessions() as session:
                return session.scalar(select(OutboxEntry.status).where(OutboxEntry.key == key)) == CONFIRMED or None

        wait_for(confirmed, timeout=BOUND, what="the outbox to send the queued use")

        def indexed() -> int | None:
            with service.sessions() as session:
                return session.scalar(select(ChainEventRow.id).where(
                    ChainEventRow.name == "UseRecorded", ChainEventRow.grant_id == "0x" + grant.hex()))

        row = wait_for(indexed, timeout=BOUND, what="the indexer to index the use")

        def watched() -> bool | None:
            with service.sessions() as session:
                mark = session.get(Watermark, WATERMARK)
                return mark is not None and mark.value >= row or None

        wait_for(watched, timeout=BOUND, what="the monitor to look at the use")


def test_an_item_to_anchor_wakes_anchoring(service: NodeService) -> None:
    service.settings.anchor_batch_size = 1  # an item is due at once: only waking it is tested
    with idle_an_hour(service):
        item = hashlib.sha256(b"wake-ups anchor " + service.settings.sql_url.encode()).hexdigest()
        with service.sessions() as session:
            added = add_item(session, kind=AnchorKind.DELIVERY_RECEIPTS, item="0x" + item)
            session.commit()
            item_id = added.id

        def sealed() -> bool | None:
            with service.sessions() as session:
                row = session.get(AnchorItem, item_id)
                return row is not None and row.batch_id is not None or None

        wait_for(sealed, timeout=BOUND, what="anchoring to seal the item")


def test_no_idle_wait_is_long_enough_to_look_stalled(node_settings: NodeSettings) -> None:
    node_settings.stall_after = 3.0
    service = NodeService.start(node_settings)
    try:
        waits = {name: loop.idle_max for name, loop in service.workers.items()}
    finally:
        service.close()
    assert max(waits.values()) <= 1.0 and waits["indexer"] <= node_settings.head_poll, waits
    assert NodeSettings.model_fields["idle_max"].default > 1.0  # the bound, not the default, made them short
