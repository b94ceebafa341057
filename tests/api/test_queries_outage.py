"""A query grant while its node's chain is away: a query asked then is refused 503, saying why,
with nothing released and no ε reserved; a query released just before the chain went away has
its record sent once the chain is back, exactly once (its ``QueryRecorded`` once, its ε spent once).

The chain is an anvil of this test's own that stops mining before the release (so the record
cannot land before the outage), killed, and started again on its port from its saved state.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.chain import LocalChain
from ledger.events import fetch_events
from ledger.deploy import Ledger
from node.access.queries import KIND
from node.models import OutboxEntry
from node.service import NodeService
from tests.api.clients import bearer, siwe_token
from tests.api.conftest import serve_node
from tests.api.test_outage import node, own_chain, own_suite  # noqa: F401 (fixtures: a chain of its own)
from tests.api.test_queries_routes import BY_DISTRICT, PASSWORD, Site, _query_grant
from tests.utils.ledgers import Suite
from tests.utils.outage import health, settled, wait_until

pytestmark = [pytest.mark.outage, pytest.mark.timeout(150)]


def _recorded_results(ledger: Ledger) -> Counter[str]:
    """How many times the chain recorded a query with each result hash (0x hex)."""
    return Counter("0x" + bytes(e.args["resultHash"]).hex()
                   for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block,
                                         ledger.w3.eth.block_number) if e.name == "QueryRecorded")


def _query_records(node: NodeService) -> int:
    with node.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.kind == KIND)) or 0


def test_a_query_is_refused_while_the_chain_is_away_and_one_released_before_lands_once_after(
    own_chain: LocalChain, own_suite: Suite, node: NodeService, tmp_path: Path  # noqa: F811
) -> None:
    with serve_node(node, {"reviewer.outage": "admin"}, PASSWORD) as api:
        http = api.http
        consumer, other = (siwe_token(http, own_suite.accounts[i], api.domain, node.ledger.manifest.chain_id)
                           for i in (7, 8))
        site = Site(http, str(http.base_url).rstrip("/"), api.staff["reviewer.outage"], consumer, other)
        grant = _query_grant(site, node, own_suite, "outage")
        path = f"/grants/{grant}/queries"
        wait_until(lambda: settled(node), "the grant's writes settled", 60)

        node.ledger.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        released = http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(consumer))
        assert released.status_code == 201, released.text
        result_hash = released.json()["result_hash"]
        assert _recorded_results(node.ledger)[result_hash] == 0 and _query_records(node) == 1

        own_chain.stop()
        refusals = [http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(consumer))]
        wait_until(lambda: health(http)[0] == 503, "/health answering 503", 30)
        refusals += [http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(consumer))
                     for _ in range(3)]
        for refused in refusals:
            assert refused.status_code == 503, refused.text
            assert refused.headers.get("Retry-After"), refused.headers
            error = refused.json()["error"]
            assert error["code"] in ("chain_unavailable", "cannot_record") and error["message"], error
            assert "rows" not in refused.json() and "result_hash" not in refused.text
        assert _query_records(node) == 1, "a refused query reserved ε"

        own_chain.start()
        wait_until(lambda: health(http)[0] == 200, "the node recovering by itself", 60)
        wait_until(lambda: settled(node), "the released query's record on chain", 60)
        assert _recorded_results(node.ledger)[result_hash] == 1
        assert sum(_recorded_results(node.ledger).values()) == 1
        assert node.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 500_000
        status = http.get(path, headers=bearer(consumer))
        assert status.status_code == 200, status.text
        assert _query_records(node) == 1
