"""A node whose chain goes away under steady deliveries: it refuses them (503, saying why, with
Retry-After) while the chain is gone, says so at /health, and recovers by itself when the chain
comes back (the same service and the same threads); afterwards every delivery it accepted is on
chain exactly once and its index equals the chain.

The chain is an anvil of this test's own (not the session's), killed and started again on its
port from the state it saved on the way down.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action
from ledger.compile import PROJECT_ROOT, ContractArtifact
from ledger.tx import write_keystore
from node.audit.chainsets import Subject
from node.service import NodeService
from node.settings import NodeSettings
from node.access.uses import UseRequest, queue_uses
from node.chain.texts import publish
from node.models import Note
from tests.utils.ledgers import DEPARTMENTS, Suite, deploy
from tests.utils.outage import (
    SteadyDeliveries, assert_loops_survived, assert_refused_fairly, granted, health, index_against_chain,
    published_texts, recorded_uses, refused_from_now, serving, settled, wait_until,
)

pytestmark = [pytest.mark.outage, pytest.mark.timeout(150)]

PASSPHRASE = "supervision test passphrase"
MAX_BACKLOG = 10
QUEUED_WHILE_AWAY = MAX_BACKLOG + 2


@pytest.fixture()
def own_chain(tmp_path: Path) -> Iterator[LocalChain]:
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=11, state=tmp_path / "anvil-state.json") as chain:
        yield chain


@pytest.fixture()
def own_suite(own_chain: LocalChain, artifacts: dict[str, ContractArtifact]) -> Suite:
    return deploy(own_chain, artifacts)


@pytest.fixture()
def node(own_chain: LocalChain, own_suite: Suite, tmp_path: Path) -> Iterator[NodeService]:
    """The first department's node on the test's own chain, with a tight backlog bound and stall
    bound so both show within a short outage."""
    department = own_suite.departments[0]
    assert department.sender is not None
    settings = NodeSettings(  # type: ignore[call-arg]
        _env_file=None, department_id=DEPARTMENTS[0], chain_url=own_chain.url,
        manifest_path=department.manifest.save(tmp_path / "deployment.json"),
        keystore_path=write_keystore(department.sender.account, tmp_path / "keys" / "node.json", PASSPHRASE),
        passphrase=SecretStr(PASSPHRASE), data_dir=tmp_path / "data", confirmations=1, anchor_interval=0.5,
        max_backlog=MAX_BACKLOG, stall_after=3.0, retry_cap=2.0,
    )
    service = NodeService.start(settings)
    try:
        yield service
    finally:
        service.close()


def _queue_uses(node: NodeService, grant: str, count: int) -> list[str]:
    """Uses the node accepted by other ways than a delivery (one write each), for the backlog."""
    uses = [UseRequest("0x" + secrets.token_hex(32), grant, Action.DOWNLOAD, "0x" + secrets.token_hex(32))
            for _ in range(count)]
    with node.sessions() as session:
        queue_uses(session, uses, batch_size=1)
        session.commit()
    return [u.evidence_hash for u in uses]


def _publish_text(node: NodeService, text: str) -> str:
    """A text the node accepted for publication (as a review reason is), queued in its outbox."""
    with node.sessions() as session:
        digest = publish(session, text)
        session.commit()
    return digest


def _indexer_stalled(http: httpx.Client) -> dict[str, Any] | None:
    _, body = health(http)
    return body if body["workers"]["indexer"]["status"] == "stalled" else None


def test_deliveries_are_refused_while_the_chain_is_gone_and_every_accepted_one_lands_once_after(
    own_chain: LocalChain, own_suite: Suite, node: NodeService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="node.supervision")
    suite = own_suite
    dataset_id, grant = granted(node, suite.consumers[0], tmp_path, max_uses=500)
    with serving(node, suite.accounts[7], healthy_within=30) as site:
        http = site.http
        steady = SteadyDeliveries(site.base_url, site.token, grant)
        with steady.running():
            wait_until(lambda: len(steady.seen("before", 201)) >= 3, "deliveries before the outage", 30)

            own_chain.stop()
            body = refused_from_now(steady, http, 30)
            assert body["status"] == "unavailable" and body["chain_reachable"] is False and body["head"] is None
            assert any("the chain does not answer" in r for r in body["reasons"]), body
            queued = _queue_uses(node, grant, QUEUED_WHILE_AWAY)
            note = _publish_text(node, f"停机期间写下的说明 {secrets.token_hex(4)}")
            # The backlog bound and the stall bound show too, while the indexer keeps failing.
            body = wait_until(lambda: _indexer_stalled(http), "the indexer stalled", 30)
            reasons = " | ".join(body["reasons"])
            waiting = re.search(rf"(\d+) chain writes are waiting to be recorded, more than the {MAX_BACKLOG}", reasons)
            assert waiting and int(waiting.group(1)) >= QUEUED_WHILE_AWAY, reasons
            assert "the node's indexer has not completed a step" in reasons, reasons
            assert body["workers"]["indexer"]["last_error"], body
            wait_until(lambda: len(steady.seen("away")) >= 5, "deliveries asked while the chain is away", 30)
            # What needs no chain goes on.
            catalog = http.get("/catalog")
            assert catalog.status_code == 200 and [d["dataset_id"] for d in catalog.json()] == [dataset_id]
            failures_while_away = node.workers["indexer"].health(node.settings.stall_after).failures
            assert failures_while_away >= 2

            own_chain.start()
            steady.phase = "back"
            wait_until(lambda: health(http)[0] == 200, "the node recovering by itself", 60)
            wait_until(lambda: len(steady.seen("back", 201)) >= 3, "deliveries accepted again", 30)
        wait_until(lambda: settled(node), "every accepted write on chain and indexed", 60)

        assert_loops_survived(node, site.loops)

    assert_refused_fairly(steady)
    # Logged once for the outage, not once per retry, and once more when it was over.
    indexer_logs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("indexer: ")]
    assert sum("retrying with backoff" in m for m in indexer_logs) == 1, indexer_logs
    assert sum("recovered after" in m for m in indexer_logs) == 1, indexer_logs

    on_chain = recorded_uses(node.ledger)
    accepted = steady.accepted() + queued
    assert len(set(accepted)) == len(accepted)
    assert {e: on_chain[e] for e in accepted} == {e: 1 for e in accepted}
    # The text queued while the chain was away is on chain once, and this node's index holds it
    # from its event (the block it was published in), not only from its own queueing.
    assert published_texts(node.ledger)[note] == 1
    with node.sessions() as session:
        held = session.get(Note, note)
        assert held is not None and held.published_block is not None
    consumer = suite.consumers[0].sender
    assert consumer is not None
    checks = index_against_chain(node, Subject.dataset(dataset_id), Subject.consumer(consumer.address))
    assert all(c.ok and c.on_chain == c.in_index for c in checks), [c.problems for c in checks]
    assert checks[0].in_index >= len(accepted)
