"""One department's geth stopped under steady deliveries to its node (20 s in `make test`, a
minute in `make soak`), then started again: the node refuses deliveries (503, saying why) while its geth is gone, recovers by itself
when it is back (the same service, the same threads), and afterwards every delivery it accepted
is on chain exactly once, as every department's geth sees it, and its index equals the chain."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.compile import ContractArtifact
from ledger.deploy import Ledger, Manifest
from ledger.tx import TransactionSender
from node.audit.chainsets import Subject
from node.service import NodeService
from node.chain.signers import SignerWatcher
from node.consortium import GAS_PRICE, Consortium, start_service
from tests.consortium.conftest import ledger_on
from tests.utils.outage import (
    SteadyDeliveries, assert_loops_survived, assert_refused_fairly, granted, health, index_against_chain,
    recorded_uses, refused_from_now, serving, settled, wait_until,
)

pytestmark = [pytest.mark.outage, pytest.mark.timeout(480)]

OWNER, READER = "health-commission", "stats-bureau"
OUTAGE = 60.0 if os.environ.get("PROVLEDGER_SOAK") == "1" else 20.0


def _consumer(consortium: Consortium, node: NodeService, artifacts: dict[str, ContractArtifact]) -> Ledger:
    """A consumer the owner sponsors, with gas, acting through another department's geth."""
    account: LocalAccount = Account.create()
    consortium.fund(account.address)
    node.ledger.consortium.register_consumer(account.address)
    w3 = consortium.nodes[READER].web3()
    sender = TransactionSender(w3, account, confirmations=1, poll_interval=0.1)
    sender.gas_price = GAS_PRICE
    return Ledger(w3, Manifest.load(consortium.manifest_path), artifacts, sender)


def test_a_department_whose_geth_stops_refuses_deliveries_then_records_every_accepted_one(
    consortium: Consortium, artifacts: dict[str, ContractArtifact], tmp_path: Path
) -> None:
    # The department's node as `provledger serve` runs it: its service, its API, its loops.
    consortium.services.pop(OWNER).stop()
    node = start_service(consortium.settings(OWNER), artifacts)
    stop_votes = threading.Event()
    watcher = SignerWatcher(node.ledger.consortium, from_block=node.ledger.manifest.deployment_block,
                            confirmations=node.settings.confirmations, clique=consortium.nodes[OWNER].ipc())
    votes = threading.Thread(target=watcher.run, args=(stop_votes,), name="signers-outage", daemon=True)
    try:
        consumer = _consumer(consortium, node, artifacts)
        assert consumer.sender is not None
        dataset_id, grant = granted(node, consumer, tmp_path, max_uses=2000)
        votes.start()
        with serving(node, consumer.sender.account, healthy_within=60) as site:
            http = site.http
            steady = SteadyDeliveries(site.base_url, site.token, grant, every=0.2)
            with steady.running():
                wait_until(lambda: len(steady.seen("before", 201)) >= 5, "deliveries before the outage", 60)

                consortium.stop_node(OWNER)
                stopped = time.monotonic()
                body = refused_from_now(steady, http, 30)
                assert body["chain_reachable"] is False and any(
                    "the chain does not answer" in r for r in body["reasons"]), body
                wait_until(lambda: len(steady.seen("away")) >= 10, "deliveries asked while the geth is away", 30)
                time.sleep(max(OUTAGE - (time.monotonic() - stopped), 0))

                consortium.start_node(OWNER)
                steady.phase = "back"
                wait_until(lambda: health(http)[0] == 200, "the node recovering by itself", 180)
                wait_until(lambda: len(steady.seen("back", 201)) >= 5, "deliveries accepted again", 60)
            wait_until(lambda: settled(node), "every accepted write on chain and indexed", 180)

            assert_loops_survived(node, site.loops)
            assert votes.is_alive()

        assert_refused_fairly(steady)
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
