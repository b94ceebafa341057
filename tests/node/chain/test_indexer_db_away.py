"""PostgreSQL drops the indexer's connections again and again in the middle of its bulk steps
(COPY of a step's rows, projections, the cursor): each cut step rolls back whole, the supervised
loop tries again, and the index ends equal to the chain, every use once."""

from __future__ import annotations

import hashlib
import threading
import time

from sqlalchemy import create_engine, func, select, text

from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, Rights, Use
from ledger.deploy import department_id
from node.chain.indexer import Indexer
from node.db import make_engine, migrate, session_factory
from node.models import Use as UseRow
from node.supervision import Supervised
from tests.node.chain.test_indexer import _chain_rows, _indexed_rows
from tests.utils.ledgers import Suite
from tests.utils.postgres import TemporaryPostgres

USES = 1500


def _uses_on_chain(suite: Suite) -> None:
    owner, consumer = suite.departments[0], suite.consumers[0]
    code = hashlib.sha256(b"db away dataset").digest()
    owner.registry.register_dataset(code, metadata="{}", category=b"\x02" * 32, grade=1, update_interval=60,
                                    rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), code)
    key = hashlib.sha256(b"db away grant").digest()
    consumer.grants.request_access(key, dataset_id=dataset, purpose="db away", schema_hash=b"\x04" * 32, fields=[],
                                   actions=Action.mask(Action.DOWNLOAD), duration=3600, max_uses=USES)
    grant = ids.grant_id(suite.accounts[7].address, key)
    owner.grants.approve(grant, price_per_use=0)
    for batch in range(USES // 500):
        owner.usage.record_uses(hashlib.sha256(f"db away batch {batch}".encode()).digest(),
                                [Use(grant, Action.DOWNLOAD, hashlib.sha256(f"{batch} {i}".encode()).digest())
                                 for i in range(500)])


def test_the_index_survives_its_database_dropping_every_connection_mid_step(
        chain: LocalChain, suite: Suite, postgres_server: TemporaryPostgres) -> None:
    _uses_on_chain(suite)
    url = postgres_server.create_database("db_away")
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    owner = suite.departments[0]
    # Steps of 200 events: many steps, each a COPY and projections, for the cuts to land in.
    indexer = Indexer(sessions, owner, confirmations=1, step_events=200)
    loop = Supervised("indexer", indexer.step, idle=0.01, first_retry=0.01, max_retry=0.05)
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    stop, cuts = threading.Event(), []

    def cut() -> None:
        with admin.connect() as connection:
            while not stop.is_set() and len(cuts) < 25:
                killed = connection.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = 'db_away' AND pid <> pg_backend_pid()")).scalar()
                if killed:
                    cuts.append(killed)
                time.sleep(0.03)

    killer = threading.Thread(target=cut, daemon=True)
    runner = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    killer.start()
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with sessions() as session:
                    if session.scalar(select(func.count()).select_from(UseRow)) == USES and not killer.is_alive():
                        break
            except Exception:  # the killer cut this read too
                pass
            time.sleep(0.1)
    finally:
        stop.set()
        loop.nudge()
        killer.join(timeout=30)
        runner.join(timeout=30)
    indexer.catch_up()  # whatever the last cut left: nothing, if the loop finished
    assert len(cuts) >= 5, cuts  # the database really went away, several times
    assert loop.health(60).last_error is not None  # and the loop saw it fail
    assert _indexed_rows(sessions) == _chain_rows(suite, owner.manifest.deployment_block)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UseRow)) == USES
        assert session.scalar(select(func.count(func.distinct(UseRow.evidence_hash)))) == USES
    admin.dispose()
    engine.dispose()
