"""A hostile consumer records uses of another consumer's grant with its own key: the chain refuses
them (CallerNotAllowed), and the trace, the uses and the alerts must name the hostile consumer,
never the grant's holder, while the holder's own uses and refusals stay its own."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from ledger.clients import Action
from node.models import Use
from node.service import NodeService
from tests.adversarial.conftest import Site, Walk, approve, create_dataset, indexed_up_to, walk
from tests.api.clients import bearer, relay, request_access, wait_until
from tests.utils.ledgers import Suite

CALLER_NOT_ALLOWED, QUOTA_EXHAUSTED = 2, 8


def _refusals(trace: Walk, grant: str) -> list[dict[str, Any]]:
    return [i for i in trace.items if i["name"] == "UseRefused" and i["grant_id"] == grant]


def test_a_refusal_is_attributed_to_the_caller_not_the_grantee(site: Site, node: NodeService, suite: Suite) -> None:
    http = site.http
    holder, intruder = suite.accounts[7].address, suite.accounts[8].address
    dataset_id = create_dataset(site, node, "refusals")
    grant = request_access(http, site.honest, suite.consumers[0], dataset_id, f"refusals {site.tag}", max_uses=1)
    approve(site, grant)

    # The holder's own story: one delivery, then one over quota, refused on chain on its behalf.
    assert http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest)).status_code == 201
    over = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest))
    assert over.status_code == 403 and over.json()["error"]["refusal"] == "quota_exhausted", over.text

    # The attack: the intruder records uses of the holder's grant, signed with its own key, relayed.
    batch = hashlib.sha256(f"intruder batch {site.tag}".encode()).digest()
    uses = [(bytes.fromhex(grant[2:]), int(action), hashlib.sha256(f"{action} {site.tag}".encode()).digest())
            for action in (Action.ANALYSE, Action.DOWNLOAD)]
    sent = relay(http, site.hostile, suite.accounts[8], suite.consumers[1].usage.contract.functions.recordUses(batch, uses))
    assert sent["status"] == "success", sent
    indexed_up_to(node, sent["block_number"])
    assert node.ledger.usage.uses_of(bytes.fromhex(grant[2:])) == 1  # the attack spent nothing of the quota

    # The intruder's attempts: in the dataset's trace, in the intruder's trace, under the intruder.
    wait_until(lambda: len(_refusals(walk(site, f"/audit/datasets/{dataset_id}/trace"), grant)) == 3)
    dataset = walk(site, f"/audit/datasets/{dataset_id}/trace")
    attempts = [i for i in _refusals(dataset, grant) if i["args"]["reason"] == CALLER_NOT_ALLOWED]
    assert len(attempts) == 2 and {i["consumer"] for i in attempts} == {intruder}
    assert {i["args"]["actor"] for i in attempts} == {intruder}
    theirs = walk(site, f"/audit/consumers/{intruder}/trace")
    assert [i["id"] for i in _refusals(theirs, grant)] == [i["id"] for i in attempts]
    mine = walk(site, f"/audit/consumers/{holder}/trace")
    assert [i["args"]["reason"] for i in _refusals(mine, grant)] == [QUOTA_EXHAUSTED]
    assert intruder not in {i["args"].get("actor") for i in mine.items}

    # The uses each consumer sees as its own, and the uses table.
    own = http.get("/me/uses", headers=bearer(site.honest)).json()
    assert [u["refused"] for u in own if u["grant_id"] == grant] == [None, "quota_exhausted"]
    tried = http.get("/me/uses", headers=bearer(site.hostile)).json()
    assert [(u["refused"], u["consumer"]) for u in tried if u["grant_id"] == grant] == [("caller_not_allowed", intruder)] * 2
    with node.sessions() as session:
        rows = session.scalars(select(Use).where(Use.grant_id == grant, Use.refused == CALLER_NOT_ALLOWED)).all()
        assert {(r.actor, r.dataset_id) for r in rows} == {(intruder, dataset_id)}

    # The alerts: the intruder is named; the holder only for its own refusal.
    def alerts() -> list[dict[str, Any]]:
        found = [a for a in http.get("/audit/alerts", headers=bearer(site.auditor)).json() if a["grant_id"] == grant
                 and a["kind"] == "refused"]
        return found if len(found) == 2 else []

    raised = {a["consumer"]: a for a in wait_until(alerts)}
    assert raised.keys() == {intruder, holder}
    assert intruder in raised[intruder]["message"] and holder not in raised[intruder]["message"]
    assert "quota_exhausted" in raised[holder]["message"] and "caller_not_allowed" not in raised[holder]["message"]

    # Nothing honest lost: the holder's use is on chain and in its trace, and every trace verifies,
    # complete: the chain, read by topic, files the attempts under the intruder too.
    assert [i["args"]["sequence"] for i in mine.items if i["name"] == "UseRecorded" and i["grant_id"] == grant] == [1]
    for trace in (dataset, theirs, mine):
        assert trace.ok, (trace.failed, trace.problems)
        assert trace.checks[-1]["on_chain"] == trace.checks[-1]["in_index"] == len(trace.items)
