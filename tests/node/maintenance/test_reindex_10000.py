"""The issue's bar: ``node reindex`` on a node with 10,000 indexed events rebuilds an index equal
row for row. In a module of its own, so its suite's 10,000 events are indexed by no other test."""

from __future__ import annotations

import time
from pathlib import Path

from node.chain.indexer import Indexer
from node.db import make_engine, migrate, session_factory
from node.maintenance.reindex import reindex
from tests.node.maintenance.test_reindex import _grant, _uses
from tests.utils.ledgers import Suite


def test_an_index_of_10000_events_is_rebuilt_equal_row_for_row(suite: Suite, tmp_path: Path) -> None:
    owner = suite.departments[0]
    grant = _grant(owner, suite.consumers[0], "ten thousand", 20_000)
    t0 = time.monotonic()
    _uses(owner, grant, "ten thousand", 10_000)
    print(f"uses sent: {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    live = make_engine(f"sqlite:///{tmp_path}/live.db")
    migrate(live)
    Indexer(session_factory(live), owner, confirmations=1).catch_up()
    print(f"live index: {time.monotonic() - t0:.1f} s")
    try:
        report = reindex(live, owner, tmp_path)
    finally:
        live.dispose()
    assert report.equal, [str(d) for d in report.differences[:5]]
    events, rebuilt_events = report.tables["chain_events"]
    assert events == rebuilt_events >= 10_000 and report.tables["uses"] == (10_000, 10_000)
    print(f"reindex of {events} events: {report.seconds:.1f} s")


