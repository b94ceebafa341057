"""A granted query on a purged version (issue 20) is refused over real HTTP with 410
``version_purged`` (queried before, it answered), and the refused query spends no ε."""

from __future__ import annotations

from node.service import NodeService
from tests.api.clients import bearer, wait_for_write
from tests.api.test_queries_routes import BY_DISTRICT, DISTRICTS, Site, _error, _query_grant, site  # noqa: F401  (fixture)
from tests.utils.ledgers import Suite


def test_a_query_of_a_purged_version_is_refused_as_purged(site: Site, node: NodeService,  # noqa: F811
                                                          suite: Suite, module_database_url: str) -> None:
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    grant = _query_grant(site, node, suite, f"purged-{tag}")
    path = f"/grants/{grant}/queries"
    dataset = "0x" + node.ledger.grants.grant(bytes.fromhex(grant[2:])).dataset_id.hex()
    answered = site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.consumer))
    assert answered.status_code == 201 and answered.json()["rows_scanned"] == sum(DISTRICTS.values()), answered.text
    assert wait_for_write(site.http, site.staff, answered.json()["write"]["id"])["status"] == "confirmed"
    purged = site.http.post(f"/datasets/{dataset}/versions/1/purge", json={"reason": "保存期满，依法删除"},
                            headers=bearer(site.staff))
    assert purged.status_code == 202, purged.text
    error = _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.consumer)),
                   410, "version_purged")
    assert error["dataset_id"] == dataset and error["version"] == 1
    assert wait_for_write(site.http, site.staff, purged.json()["id"])["status"] == "confirmed"
    _error(site.http.post(path, json={"sql": BY_DISTRICT, "epsilon": "0.5"}, headers=bearer(site.consumer)),
           410, "version_purged")
    assert node.ledger.usage.epsilon_spent(bytes.fromhex(grant[2:])) == 500_000
