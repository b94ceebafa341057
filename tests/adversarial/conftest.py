"""A hostile department and a hostile consumer against a real deployment.

One :class:`LocalDeployment` for the session (what ``provledger up`` runs: an anvil chain, three
department nodes serving their APIs on 127.0.0.1). The health commission is the honest owner,
the statistics bureau's node is also coordinator, and the deployer is a second coordinator.
The hostile department is public security, holding its own service account's key and the
chain's JSON-RPC; the hostile consumer is consumer-2, sponsored by the health commission.
Every test uses datasets and grants of its own, so the tests do not depend on each other.

A second, smaller setting (``site``): the first department's node of the test suite, served over
real HTTP with its background work running, with its staff, the honest and the hostile consumer
and the auditor signed in, and the node's own SQL open to tamper with as its operator could.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.cli import Api, Progress, register_dataset, request_access
from api.local import LocalDeployment
from ledger.deploy import Ledger, Manifest
from ledger.tx import TransactionSender
from node.chain.indexer import CURSOR
from node.models import IndexerCursor
from node.service import NodeService, load_artifacts
from tests.api.clients import bearer, siwe_token, wait_for_write, wait_until
from tests.api.conftest import module_database_url, node, serve_node  # noqa: F401  (fixtures used here)
from tests.utils.ledgers import Suite

T = TypeVar("T")

OWNER, COORDINATOR_NODE, HOSTILE = "health-commission", "stats-bureau", "public-security"
FIELDS = ("name", "id_number", "phone", "visits")
CLASSES = {"name": "name", "id_number": "id_number", "phone": "mobile"}
QUIET = Progress(enabled=False)


def wait_for(what: str, poll: Callable[[], T | None], timeout: float = 60.0) -> T:
    """``poll`` until it gives something: the CLI's own wait, quiet."""
    return QUIET.wait(what, poll, timeout=timeout, interval=0.1)


def people(count: int, *, order: Sequence[str] = FIELDS) -> list[dict[str, str]]:
    rows = [{"name": f"张{i}", "id_number": f"1101011990030{i % 10}123{i % 10}", "phone": f"1380000{i:04d}",
             "visits": str(i % 7)} for i in range(count)]
    return [{name: row[name] for name in order} for row in rows]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@dataclass
class World:
    """The deployment, with a chain client and an API session for whoever a test plays."""

    deployment: LocalDeployment
    folder: Path
    manifest: Manifest = field(init=False)
    w3: Web3 = field(init=False)
    _apis: list[Api] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.manifest = Manifest.load(self.deployment.manifest_path)
        self.w3 = Web3(Web3.HTTPProvider(self.deployment.chain_url))
        self.artifacts = load_artifacts()

    # ------------------------------------------------------------ who acts

    def account(self, index: int) -> LocalAccount:
        assert self.deployment.chain is not None
        return Account.from_key(self.deployment.chain.private_keys[index])

    def ledger(self, account: LocalAccount, *, outbid: bool = False) -> Ledger:
        """The chain itself, as ``account``: what a hostile party holds besides the API. With
        ``outbid``, its transactions pay ten times the going price, so a block holding them and
        an honest node's puts them first."""
        sender = TransactionSender(self.w3, account, poll_interval=0.002)
        if outbid:
            sender.gas_price *= 10
        return Ledger(self.w3, self.manifest, self.artifacts, sender)

    def department_account(self, code: str) -> LocalAccount:
        return self.account(1 + [d.code for d in self.deployment.departments].index(code))

    @property
    def coordinator(self) -> LocalAccount:
        return self.account(0)

    @property
    def honest_consumer(self) -> LocalAccount:
        return self.deployment.consumers[0].account

    @property
    def hostile_consumer(self) -> LocalAccount:
        return self.deployment.consumers[1].account

    def fresh_account(self) -> LocalAccount:
        account: LocalAccount = Account.create()
        self.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
        return account

    def staff(self, code: str) -> Api:
        department = self.deployment.department(code)
        api = self._keep(Api(department.url, QUIET))
        api.sign_in_staff(department.username, department.password)
        return api

    def signed_in(self, account: LocalAccount, code: str = OWNER) -> Api:
        api = self._keep(Api(self.deployment.department(code).url, QUIET))
        api.sign_in_siwe(account)
        return api

    def anonymous(self, code: str = OWNER) -> Api:
        return self._keep(Api(self.deployment.department(code).url, QUIET))

    def _keep(self, api: Api) -> Api:
        self._apis.append(api)
        return api

    def close(self) -> None:
        for api in self._apis:
            api.close()

    # ------------------------------------------------------------ honest work

    def publish(self, rows: list[dict[str, str]], *, grade: int = 2, owner: str = OWNER) -> str:
        """Register a dataset of ``rows`` at ``owner``'s node and wait until it is anchored."""
        code = f"adv-{secrets.token_hex(6)}"
        path = write_csv(self.folder / f"{code}.csv", rows)
        dataset, _, _ = register_dataset(self.staff(owner), path, code=code, name=f"Dataset {code}",
                                         category="health", grade=grade, interval=86400,
                                         field_classes={k: v for k, v in CLASSES.items() if k in rows[0]},
                                         rules=[], key_fields=[])
        return str(dataset["dataset_id"])

    def add_version(self, dataset_id: str, rows: list[dict[str, str]], *, owner: str = OWNER) -> dict[str, Any]:
        from api.cli import upload_version, wait_anchored
        api = self.staff(owner)
        path = write_csv(self.folder / f"{dataset_id[:12]}-{secrets.token_hex(4)}.csv", rows)
        version: dict[str, Any] = upload_version(api, dataset_id, path)
        wait_anchored(api, dataset_id, version["content_root"])
        return version

    def granted(self, consumer: LocalAccount, dataset_id: str, *, fields: Sequence[str] = ("visits",), uses: int = 5,
                owner: str = OWNER) -> tuple[Api, str]:
        """``consumer`` signed in at the owner's node with an active grant on ``dataset_id``."""
        api = self.signed_in(consumer, owner)
        grant = request_access(api, consumer, dataset_id, purpose="adversarial test", fields=list(fields),
                               uses=uses, days=1)
        staff = self.staff(owner)
        wait_for("the request in the owner's queue",
                 lambda: any(q["grant_id"] == grant for q in staff.call("GET", "/review/queue")) or None)
        staff.call("POST", f"/grants/{grant}/approve", json={"reason": "approved for the test"})
        self.wait_status(grant, ("active", "awaiting_co_approval"))
        return api, grant

    def wait_status(self, grant_id: str, statuses: Sequence[str]) -> str:
        ledger = self.ledger(self.coordinator)
        return wait_for(f"grant {grant_id} in {statuses}", lambda: (
            s if (s := ledger.grants.grant(bytes.fromhex(grant_id[2:])).status.name.lower()) in statuses else None))

    def uses_on_chain(self, grant_id: str) -> int:
        return self.ledger(self.coordinator).usage.uses_of(bytes.fromhex(grant_id[2:]))

    @contextmanager
    def blocks_held(self) -> Iterator[None]:
        """Nothing is mined inside the block; on leaving, one block takes every pending transaction
        (the highest tip first), as when a hostile party outbids an honest write."""
        self.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        try:
            yield
        finally:
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]

    def pending_from(self, address: str) -> int:
        return self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending") - \
            self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "latest")


@pytest.fixture(scope="session")
def deployment() -> Iterator[LocalDeployment]:
    # Every test of the session signs in from 127.0.0.1 to the same nodes, many within a minute;
    # the sign-in limit itself is tested on a node of its own (tests/api/test_hardening.py).
    with LocalDeployment(departments=3, anchor_interval=0.5, node_settings={"rate_sign_in": "6000/minute"}) as local:
        yield local


@pytest.fixture()
def world(deployment: LocalDeployment, tmp_path: Path) -> Iterator[World]:
    world = World(deployment, tmp_path)
    yield world
    world.close()


# ---------------------------------------------------------------- one node of the test suite, as its operator sees it

USERNAME, PASSWORD = "reviewer.adversarial", "adversarial reviewer password"


@dataclass
class Site:
    http: httpx.Client
    url: str
    domain: str
    chain_id: int
    staff: str
    honest: str
    """The session token of consumer 7 (the honest one, whose grants are attacked)."""
    hostile: str
    """The session token of consumer 8 (the hostile one)."""
    auditor: str
    tag: str
    """``sqlite`` or ``postgresql``: the module's chain holds both runs, so ids differ by it."""


@pytest.fixture(scope="module")
def site(node: NodeService, suite: Suite, module_database_url: str) -> Iterator[Site]:  # noqa: F811
    """The node's whole API with its background work, as deployed: an admin, consumers 7 and 8 and
    the auditor signed in."""
    chain_id = node.ledger.manifest.chain_id
    tag = module_database_url.split(":", 1)[0].split("+")[0]
    with serve_node(node, {USERNAME: "admin"}, PASSWORD, timeout=120) as api:
        http, domain = api.http, api.domain
        honest, hostile = (siwe_token(http, suite.accounts[i], domain, chain_id) for i in (7, 8))
        yield Site(http, str(http.base_url).rstrip("/"), domain, chain_id, api.staff[USERNAME], honest, hostile,
                   siwe_token(http, suite.accounts[9], domain, chain_id), tag)


def create_dataset(site: Site, node: NodeService, code: str, *,  # noqa: F811
                   content: bytes = b"name,visits\n" + b"".join(b"Person %d,%d\n" % (i, i) for i in range(20)),
                   field_classes: dict[str, str] | None = None) -> str:
    """A grade-1 dataset of the node's department with one version (``content``, a CSV), anchored on chain."""
    created = site.http.post("/datasets", headers=bearer(site.staff), json={
        "code": f"{code}-{site.tag}", "name": f"Adversarial {code}", "category": "health", "grade": 1,
        "update_interval": 86400, "field_classes": field_classes or {"name": "name"}})
    assert created.status_code == 201, created.text
    dataset_id: str = created.json()["dataset_id"]
    uploaded = site.http.put(f"/datasets/{dataset_id}/versions", params={"format": "csv"}, content=content,
                             headers={**bearer(site.staff), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    return dataset_id


def approve(site: Site, grant: str) -> None:
    wait_until(lambda: any(q["grant_id"] == grant for q in site.http.get(
        "/review/queue", headers=bearer(site.staff)).json()))
    accepted = site.http.post(f"/grants/{grant}/approve", json={"reason": "ok", "price_per_use": 0},
                              headers=bearer(site.staff))
    assert accepted.status_code == 202, accepted.text
    assert wait_for_write(site.http, site.staff, accepted.json()["id"])["status"] == "confirmed"


def indexed_up_to(node: NodeService, block: int) -> None:  # noqa: F811
    """Wait until the node's index reached ``block``."""
    def done() -> bool:
        with node.sessions() as session:
            cursor = session.get(IndexerCursor, CURSOR)
            return cursor is not None and cursor.block_number >= block
    wait_until(done)


@dataclass
class Walk:
    """A trace read page by page with ``verify``: its items, and each page's completeness check."""

    items: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [i for i in self.items if not i["verification"]["ok"]]

    @property
    def problems(self) -> list[str]:
        return list(dict.fromkeys(p for c in self.checks for p in c["problems"]))

    @property
    def ok(self) -> bool:
        return not self.failed and all(c["ok"] for c in self.checks)


def page(site: Site, path: str, *, after: int = 0, limit: int = 50) -> dict[str, Any]:
    response = site.http.get(path, params={"after": after, "limit": limit, "verify": True},
                             headers=bearer(site.auditor))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def walk(site: Site, path: str, *, limit: int = 50) -> Walk:
    items: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        found = page(site, path, after=after, limit=limit)
        items += found["items"]
        checks.append(found["complete"])
        after = found["next_after"]
    return Walk(items, checks)
