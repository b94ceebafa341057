"""One department's geth stopped for a minute under steady deliveries to its node, then started
again: the node refuses deliveries (503, saying why) while its geth is gone, recovers by itself
when it is back (the same service, the same threads), and afterwards every delivery it accepted
is on chain exactly once, as every department's geth sees it, and its index equals the chain."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.app import create_app
from ledger import ids
from ledger.chain import free_port
from ledger.clients import Action
from ledger.compile import ContractArtifact
from ledger.deploy import Ledger, Manifest
from ledger.tx import TransactionSender
from node import review
from node.chainsets import Subject
from node.register import register_dataset, register_version
from node.service import NodeService
from node.signers import SignerWatcher
from scripts.consortium import GAS_PRICE, Consortium, start_service
from tests.api.clients import siwe_token
from tests.api.conftest import serve
from tests.consortium.conftest import ledger_on
from tests.utils.outage import SteadyDeliveries, index_against_chain, recorded_uses, settled, wait_until

pytestmark = [pytest.mark.outage, pytest.mark.timeout(480)]

OWNER, READER = "health-commission", "stats-bureau"
OUTAGE = 60.0
CSV = "name,phone,visits\n" + "".join(f"Person {i},1380013{i:04d},{i % 5}\n" for i in range(20))
LOOPS = ("outbox", "indexer", "monitor", "anchors")


def _consumer(consortium: Consortium, node: NodeService, artifacts: dict[str, ContractArtifact]) -> Ledger:
    """A consumer the owner sponsors, with gas, acting through another department's geth."""
    account: LocalAccount = Account.create()
    consortium.fund(account.address)
    node.ledger.consortium.register_consumer(account.address)
    w3 = consortium.nodes[READER].web3()
    sender = TransactionSender(w3, account, confirmations=1, poll_interval=0.1)
    sender.gas_price = GAS_PRICE
    return Ledger(w3, Manifest.load(consortium.manifest_path), artifacts, sender)


def _granted(node: NodeService, consumer: Ledger, tmp_path: Path) -> tuple[str, str]:
    source = tmp_path / "visits.csv"
    source.write_text(CSV)
    with node.sessions() as session:
        dataset = register_dataset(session, department=OWNER, code="outage-visits", name="Visits",
                                   category="health", grade=2, update_interval=0,
                                   field_classes={"name": "name", "phone": "mobile"})
        register_version(session, dataset_id=dataset.dataset_id, path=source)
        session.commit()
    node.settle(timeout=120)
    key = hashlib.sha256(b"consortium outage grant").digest()
    consumer.grants.request_access(key, dataset_id=bytes.fromhex(dataset.dataset_id[2:]), purpose_hash=b"\x01" * 32,
                                   schema_hash=b"\x00" * 32, fields=["visits"], actions=Action.mask(Action.DOWNLOAD),
                                   duration=3600, max_uses=2000)
    assert consumer.sender is not None
    grant = "0x" + ids.grant_id(consumer.sender.address, key).hex()
    node.settle(timeout=120)
    with node.sessions() as session:
        review.approve(session, node.ledger, OWNER, grant, reason="for the outage test")
        session.commit()
    node.settle(timeout=120)
    return dataset.dataset_id, grant


def _status(http: httpx.Client) -> int:
    return http.get("/health").status_code


def test_a_department_whose_geth_stops_for_a_minute_refuses_deliveries_then_records_every_accepted_one(
    consortium: Consortium, artifacts: dict[str, ContractArtifact], tmp_path: Path
) -> None:
    # The department's node as `provledger serve` runs it: its service, its API, its loops.
    consortium.services.pop(OWNER).stop()
    node = start_service(consortium.settings(OWNER), artifacts)
    stop_votes = threading.Event()
    watcher = SignerWatcher(node.ledger.consortium, from_block=node.ledger.manifest.deployment_block,
                            confirmations=node.settings.confirmations)
    votes = threading.Thread(target=watcher.run, args=(stop_votes,), name="signers-outage", daemon=True)
    try:
        consumer = _consumer(consortium, node, artifacts)
        assert consumer.sender is not None
        dataset_id, grant = _granted(node, consumer, tmp_path)
        votes.start()
        port = free_port()
        domain = f"127.0.0.1:{port}"
        with serve(create_app(node, domain=domain), port, lifespan=True) as served, \
                httpx.Client(base_url=served.base_url, timeout=30) as http:
            wait_until(lambda: http.get("/health").json()["status"] == "ok", "a healthy node", 60)
            loops = {t.name: t for t in threading.enumerate() if t.name in {f"node-{n}" for n in LOOPS}}
            assert set(loops) == {f"node-{n}" for n in LOOPS}
            token = siwe_token(http, consumer.sender.account, domain, node.ledger.manifest.chain_id)
            steady = SteadyDeliveries(served.base_url, token, grant, every=0.2)
            with steady.running():
                wait_until(lambda: len(steady.seen("before", 201)) >= 5, "deliveries before the outage", 60)

                consortium.stop_node(OWNER)
                stopped = time.monotonic()
                steady.phase = "away"
                wait_until(lambda: _status(http) == 503, "/health answering 503", 30)
                body = http.get("/health").json()
                assert body["chain_reachable"] is False and any(
                    "the chain does not answer" in r for r in body["reasons"]), body
                wait_until(lambda: len(steady.seen("away")) >= 10, "deliveries asked while the geth is away", 30)
                time.sleep(max(OUTAGE - (time.monotonic() - stopped), 0))
                assert all(a.status == 503 for a in steady.seen("away"))

                consortium.start_node(OWNER)
                steady.phase = "back"
                wait_until(lambda: _status(http) == 200, "the node recovering by itself", 180)
                wait_until(lambda: len(steady.seen("back", 201)) >= 5, "deliveries accepted again", 60)
            wait_until(lambda: settled(node), "every accepted write on chain and indexed", 180)

            assert {t.name: t for t in threading.enumerate() if t.name in loops} == loops
            assert all(t.is_alive() for t in loops.values()) and votes.is_alive()
            assert all(node.workers[n].health(node.settings.stall_after).status == "ok" for n in LOOPS)

        answers = steady.seen()
        assert {a.status for a in answers} <= {201, 503}, [a for a in answers if a.status not in (201, 503)]
        for refused in steady.seen(status=503):
            assert refused.retry_after and refused.body["error"]["code"] in ("cannot_record", "chain_unavailable")
        accepted = steady.accepted()
        assert len(set(accepted)) == len(accepted)
        for code in consortium.nodes:
            on_chain = recorded_uses(ledger_on(consortium, code, artifacts))
            assert {e: on_chain[e] for e in accepted} == {e: 1 for e in accepted}, f"as {code}'s geth sees it"
        checks = index_against_chain(node, Subject.dataset(dataset_id), Subject.consumer(consumer.sender.address))
        assert all(c.ok and c.on_chain == c.in_index for c in checks), [c.problems for c in checks]
    finally:
        stop_votes.set()
        if votes.is_alive():
            votes.join(timeout=30)
        node.close()
