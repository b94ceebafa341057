"""One catalog across departments: every node lists every department's datasets from the chain.

Each department's node of the session deployment registers a dataset; each node's catalog then
lists all of them with the same metadata, its DCAT document gives only URLs that answer, a row
forged in a node's SQL shows as unverified with none of its text, and a department whose text
claims another's name still shows as itself.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ledger import ids
from ledger.clients import Rights
from node.catalog.entries import entries
from node.catalog.freshness import DAY
from node.catalog.register import code_id
from node.catalog.texts import canonical_json, text_hash
from tests.adversarial.conftest import FIELDS, HOSTILE, OWNER, World, people, wait_for

SAME = ("dataset_id", "name", "description", "owner_department", "department_name", "category", "grade",
        "update_interval", "metadata_hash", "verified", "field_classes", "key_fields", "catalog", "fields",
        "schema_hash", "versions", "latest_version", "registered_at")


def _catalog(world: World, code: str, **params: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = world.anonymous(code).call("GET", "/catalog", params=params)
    return listed


def _listed(world: World, code: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """``code``'s catalog once its indexer has caught up with every dataset of ``wanted``."""
    def poll() -> dict[str, dict[str, Any]] | None:
        found = {e["dataset_id"]: e for e in _catalog(world, code) if e["dataset_id"] in wanted}
        return found if set(found) == wanted and all(e["latest_version"] for e in found.values()) else None
    return wait_for(f"{len(wanted)} datasets in the catalog of {code}", poll)


@pytest.fixture(scope="module")
def published(deployment: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One dataset registered at each department's node (the first one open, grade 1), by department."""
    world = World(deployment, tmp_path_factory.mktemp("catalog"))
    try:
        yield {d.code: world.publish(people(6), grade=1 if i == 0 else 2, owner=d.code)
               for i, d in enumerate(deployment.departments)}
    finally:
        world.close()


def test_every_node_lists_every_department_s_datasets_with_the_same_metadata(
        world: World, published: dict[str, str]) -> None:
    wanted = set(published.values())
    seen = {d.code: _listed(world, d.code, wanted) for d in world.deployment.departments}

    for code, dataset_id in published.items():
        views = [{k: seen[node][dataset_id][k] for k in SAME} for node in seen]
        assert all(view == views[0] for view in views), f"nodes disagree on {code}'s dataset"
        entry = seen[OWNER][dataset_id]
        assert (entry["owner_department"], entry["department_name"]) == (
            code, world.deployment.department(code).name)
        assert entry["verified"] and entry["checked_on_chain"]
        assert entry["fields"] == list(FIELDS)
        assert entry["field_classes"] == {"name": "name", "id_number": "id_number", "phone": "mobile"}
        assert entry["freshness"]["summary"] == "current"
        assert entry["versions"][0]["format"] == "csv" and entry["versions"][0]["record_count"] == 6


def test_the_catalog_searches_across_departments_by_name_department_grade_and_field(
        world: World, published: dict[str, str]) -> None:
    wanted = set(published.values())
    _listed(world, HOSTILE, wanted)
    owner_name = world.deployment.department(OWNER).name
    name = next(e["name"] for e in _catalog(world, HOSTILE) if e["dataset_id"] == published[OWNER])

    assert [e["dataset_id"] for e in _catalog(world, HOSTILE, q=name)] == [published[OWNER]]
    by_department = {e["dataset_id"] for e in _catalog(world, HOSTILE, department=owner_name)}
    assert published[OWNER] in by_department and not by_department & (wanted - {published[OWNER]})
    assert all(e["owner_department"] == OWNER for e in _catalog(world, HOSTILE, department=OWNER))
    assert wanted <= {e["dataset_id"] for e in _catalog(world, HOSTILE, q="id_number")}
    assert all(e["grade"] == 1 for e in _catalog(world, HOSTILE, grade=1))
    one = world.anonymous(HOSTILE).call("GET", f"/catalog/{published[OWNER]}")
    assert one["name"] == name and one["owner_department"] == OWNER


def test_every_url_in_each_node_s_dcat_document_answers(world: World, published: dict[str, str]) -> None:
    for department in world.deployment.departments:
        _listed(world, department.code, set(published.values()))
        with httpx.Client(base_url=department.url, timeout=30) as http:
            document = http.get("/catalog/dcat").json()
            text = json.dumps(document)
            urls = sorted(set(re.findall(re.escape(department.url) + r"/[^\"]*", text)))
            assert {d["dct:identifier"] for d in document["dcat:dataset"]} >= set(published.values())
            downloads = [u for u in urls if u.endswith("/content")]
            first = world.deployment.departments[0].code
            assert downloads == ([f"{department.url}/open/{published[first]}/content"]
                                 if department.code == first else [])
            for url in urls:
                assert http.get(url).status_code == 200, url


def test_metadata_forged_in_a_node_s_sql_does_not_show(world: World, published: dict[str, str]) -> None:
    """The node's operator rewrites a row of another department's dataset, its text and the hash
    beside it: the catalog checks both against the chain and shows the entry unverified, with none
    of the forged text, where a search for it finds nothing."""
    dataset_id = published[OWNER]
    node = world.deployment.departments[0]
    _listed(world, node.code, {dataset_id})
    engine = sa.create_engine(f"sqlite:///{node.data_dir / 'node.db'}")
    forged = canonical_json({"name": "Forged registry", "catalog": {"description": "nothing"}})
    table = sa.table("catalog_datasets", sa.column("dataset_id"), sa.column("metadata_text"),
                     sa.column("metadata_hash"))
    with engine.begin() as sql:
        before = sql.execute(sa.select(table.c.metadata_text, table.c.metadata_hash)
                             .where(table.c.dataset_id == dataset_id)).one()
        sql.execute(sa.update(table).where(table.c.dataset_id == dataset_id)
                    .values(metadata_text=forged, metadata_hash=text_hash(forged)))
    try:
        entry = world.anonymous(node.code).call("GET", f"/catalog/{dataset_id}")
        assert not entry["verified"] and entry["checked_on_chain"]
        assert "Forged" not in json.dumps(entry) and entry["name"] == dataset_id
        assert entry["owner_department"] == OWNER
        assert _catalog(world, node.code, q="Forged") == []
        with engine.begin() as sql:  # the text alone, its hash left as it was: caught without the chain
            sql.execute(sa.update(table).where(table.c.dataset_id == dataset_id)
                        .values(metadata_text=forged, metadata_hash=before.metadata_hash))
        with world.deployment.node(node.code).sessions() as session:
            (offline,) = entries(session, None, dataset_ids=[dataset_id])
        assert not offline.verified and offline.metadata == {}
    finally:
        with engine.begin() as sql:
            sql.execute(sa.update(table).where(table.c.dataset_id == dataset_id)
                        .values(metadata_text=before.metadata_text, metadata_hash=before.metadata_hash))
        engine.dispose()
    assert world.anonymous(node.code).call("GET", f"/catalog/{dataset_id}")["verified"]


def test_a_department_claiming_another_s_name_still_shows_as_itself(world: World) -> None:
    """Public security registers, from its own account, a dataset whose text says it is the health
    commission's: every node lists it as public security's, as the chain says."""
    owner = world.deployment.department(OWNER)
    claim = canonical_json({"name": "Official vaccination register", "department": OWNER,
                            "department_name": owner.name, "category": "health", "grade": 1,
                            "field_classes": {}, "key_fields": [], "catalog": {}, "update_interval": 0})
    code = f"claim-{secrets.token_hex(4)}"
    hostile = world.ledger(world.department_account(HOSTILE))
    hostile.registry.register_dataset(ids.key_of(code), metadata=claim, category=bytes.fromhex(code_id("health")[2:]),
                                      grade=1, update_interval=0, rights=Rights(bytes.fromhex(code_id(HOSTILE)[2:])))
    dataset_id = "0x" + ids.dataset_id(bytes.fromhex(code_id(HOSTILE)[2:]), ids.key_of(code)).hex()

    for department in world.deployment.departments:
        entry = wait_for(f"the claim in the catalog of {department.code}", lambda: next(
            (e for e in _catalog(world, department.code, q="Official vaccination") if e["dataset_id"] == dataset_id),
            None))
        assert (entry["owner_department"], entry["department_name"]) == (
            HOSTILE, world.deployment.department(HOSTILE).name)
        assert entry["verified"] and entry["freshness"]["summary"] == "no version yet"
        assert {e["dataset_id"] for e in _catalog(world, department.code, department=OWNER)}.isdisjoint({dataset_id})


def test_freshness_counts_the_days_since_the_last_version_against_the_interval(
        world: World, published: dict[str, str]) -> None:
    """Read at chosen moments (no clock is waited on): current within the interval of a day, then late."""
    dataset_id = published[OWNER]
    code = world.deployment.departments[-1].code
    _listed(world, code, {dataset_id})
    with world.deployment.node(code).sessions() as session:
        (entry,) = entries(session, None, dataset_ids=[dataset_id])
        anchored = entry.versions[-1].anchored_at
        assert anchored is not None
        (later,) = entries(session, None, dataset_ids=[dataset_id], now=anchored + 4 * DAY)
    assert entry.update_interval == DAY
    assert entry.freshness.summary == "current" and later.freshness.summary == "late by 3 days"
