"""Fixtures for the dashboard tests: one department's node with its API (and so its dashboard)
on a local chain, a story told to it through the API, and Debian's Chromium to look at it.

The story: a dataset derived from a parent and with a child of its own, two versions of it, the
first one's file tampered with on disk once anchored; a consumer's requests waiting for review,
and one grant approved through the API for the live stream.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.cli import Api, Progress, decide, request_access, upload_version, wait_anchored
from api.local import LocalDeployment, Participant
from ledger.compile import PROJECT_ROOT
from node.departments import DepartmentPlan, DepartmentSpec
from node.store import DataStore
from tests.dashboard.browser import Browser, find_chromium, unavailable
from tests.utils.required import require

SCREENSHOTS = PROJECT_ROOT / "screenshots"
FIELDS = "name,phone,district,visits\n"


def people(count: int, seed: int) -> bytes:
    rows = "".join(f"Person {seed}-{i},1380013{i:04d},district {i % 7},{(i * seed) % 11}\n" for i in range(count))
    return (FIELDS + rows).encode()


@dataclass
class Story:
    deployment: LocalDeployment
    url: str
    staff: Api
    consumer: Participant
    parent: str
    dataset: str
    child: str
    tampered: Path
    to_approve: str
    to_reject: str
    waiting: str
    live: str

    @property
    def auditor(self) -> Participant:
        assert self.deployment.auditor is not None
        return self.deployment.auditor

    def signed_in(self, who: Participant) -> Api:
        api = Api(self.url, Progress(False))
        api.sign_in_siwe(who.account)
        return api


def _register(staff: Api, code: str, name: str, *, grade: int, interval: int, parents: list[str],
              versions: list[bytes]) -> str:
    dataset: dict[str, Any] = staff.call("POST", "/datasets", json={
        "code": code, "name": name, "category": "health", "grade": grade, "update_interval": interval,
        "parents": parents, "catalog": {"description": f"{name}, per person and district"},
        "field_classes": {"name": "name", "phone": "mobile"}})
    dataset_id: str = dataset["dataset_id"]
    for content in versions:
        version = staff.call("PUT", f"/datasets/{dataset_id}/versions", params={"format": "csv"}, content=content,
                             headers={"Content-Type": "text/csv"})
        wait_anchored(staff, dataset_id, version["content_root"])
    return dataset_id


def _tamper(store: DataStore, data_dir: Path, dataset_id: str, original: bytes) -> Path:
    """Change one byte of the file a version was registered from, keeping its size, as one who
    holds the node's data key would (the file is kept encrypted: it is sealed again)."""
    def plaintext(path: Path) -> bytes:
        with store.open(path) as f:
            return f.read()

    stored = [p for p in (data_dir / "datasets" / dataset_id).iterdir() if plaintext(p) == original]
    assert len(stored) == 1, stored
    changed = original.replace(b"Person 7-3,", b"Persen 7-3,", 1)
    assert changed != original and len(changed) == len(original)
    sealed = stored[0].with_name(stored[0].name + ".tampered")
    store.store(io.BytesIO(changed), sealed)
    os.replace(sealed, stored[0])
    return stored[0]


BUREAU = DepartmentSpec("stats-bureau", "统计局")


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    """One department, named as Chinese departments are."""
    with LocalDeployment(departments=DepartmentPlan((BUREAU,), BUREAU.code)) as local:
        yield local


@pytest.fixture(scope="module")
def story(deployment: LocalDeployment) -> Iterator[Story]:
    department = deployment.department("stats-bureau")
    with Api(department.url, Progress(False)) as staff:
        staff.sign_in_staff(department.username, department.password)
        parent = _register(staff, "population-2025", "Population register 2025", grade=2, interval=0, parents=[],
                           versions=[people(30, 3)])
        first = people(40, 7)
        dataset = _register(staff, "hospital-visits-2026", "Hospital visits 2026", grade=2, interval=86400,
                            parents=[parent], versions=[first, people(45, 7)])
        child = _register(staff, "visits-by-district", "Visits by district 2026", grade=1, interval=3600,
                          parents=[dataset], versions=[people(10, 5)])
        tampered = _tamper(deployment.node(department.code).store, department.data_dir, dataset, first)

        consumer = deployment.consumers[0]
        with Api(department.url, Progress(False)) as as_consumer:
            as_consumer.sign_in_siwe(consumer.account)
            grants = [request_access(as_consumer, consumer.account, dataset, purpose=purpose, fields=fields,
                                     uses=uses, days=30)
                      for purpose, fields, uses in (("2026 outpatient study", ["name"], 10),
                                                    ("marketing list", ["name", "phone"], 100),
                                                    ("district planning", [], 20), ("live monitoring", [], 2))]

        def all_queued() -> bool | None:
            return {q["grant_id"] for q in staff.call("GET", "/review/queue")} >= set(grants) or None

        staff.progress.wait("the review queue", all_queued, timeout=60)
        decide(staff, grants[3], reason="approved for the monitoring demo")
        yield Story(deployment, department.url, staff, consumer, parent, dataset, child, tampered, *grants)


@pytest.fixture(scope="module")
def browser(deployment: LocalDeployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium, closed before the deployment stops (its pages hold event streams open)."""
    require("Chromium", unavailable(), "make chromium")
    chromium = find_chromium()
    assert chromium is not None
    with Browser(chromium, tmp_path_factory.mktemp("browser") / "drive.log") as running:
        yield running
