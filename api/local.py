"""A whole deployment on this machine, in-process: a local anvil chain, the contracts, N
department nodes each serving its API on 127.0.0.1, two consumers and an auditor.

:class:`LocalDeployment` is what ``provledger up`` keeps running and what ``provledger demo``
tells its story against. Accounts come from anvil's funded development keys:

    0            the deployer, coordinator of the consortium
    1 .. N       the departments' service accounts (their nodes sign with them)
    N+1 .. 2N    the departments' validators
    2N+1, 2N+2   two consumers, sponsored by the first and the second department
    2N+3         the auditor

Departments are given by code and name (``civil-affairs=民政局``, :mod:`node.departments`), or
counted (``stats-bureau``, ``health-commission``, ...). The coordinator department (the first,
unless named) has ``appoint_coordinator`` on its service account, so its staff see co-approvals
in their review queue. Every account's key is written to an
encrypted keystore under the work folder, all under one generated passphrase:

    deployment.json        the contracts' manifest
    passphrase             the keystores' passphrase (0600)
    keys/<name>.json       coordinator, <department>, <department>-validator, consumer-1, consumer-2, auditor
    <department>/data/     the node's SQLite database, session and fingerprint keys, deliveries
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.staff import create_staff
from api.streams import Server
from ledger.chain import LocalChain, find_anvil, free_port
from ledger.compile import PROJECT_ROOT
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.tx import TransactionSender, write_keystore
from ledger.waiting import wait_for
from node.private import private_umask
from node.departments import DepartmentPlan, DepartmentSpec, plan_departments
from node.service import NodeService, load_artifacts
from node.settings import NodeSettings

DEPARTMENTS = ("stats-bureau", "health-commission", "public-security")
SERVER_TIMEOUT = 30.0
"""Seconds a server may take to start, and to stop (its node's background work included)."""


def department_codes(count: int) -> list[str]:
    """The first ``count`` department codes: the three of the story, then ``department-4``..."""
    return [DEPARTMENTS[i] if i < len(DEPARTMENTS) else f"department-{i + 1}" for i in range(count)]


def display_name(code: str) -> str:
    return code.replace("-", " ").title()


def counted_departments(count: int) -> list[DepartmentSpec]:
    """``count`` unnamed departments: their codes, and names made from them."""
    return [DepartmentSpec(code, display_name(code)) for code in department_codes(count)]


def local_plan(departments: int | DepartmentPlan) -> DepartmentPlan:
    if isinstance(departments, DepartmentPlan):
        return plan_departments(departments.departments, coordinator=departments.coordinator,
                                default_codes=counted_departments)
    return plan_departments((), count=departments, default_codes=counted_departments)


@dataclass(frozen=True)
class DepartmentApi:
    """One department's node as served: its API, its staff sign-in and its service account."""

    code: str
    name: str
    url: str
    address: str
    coordinator: bool
    username: str
    password: str
    data_dir: Path

    @property
    def docs(self) -> str:
        return f"{self.url}/docs"


@dataclass(frozen=True)
class Participant:
    """A consumer or the auditor: an account outside the departments, with its keystore."""

    role: str
    label: str
    account: LocalAccount
    keystore: Path
    sponsor: str | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)


class Served:
    """One app under uvicorn on 127.0.0.1, in a thread, with its lifespan on: an app made with its
    background work (outbox, anchoring, indexer, monitor) runs it, unlike in the API tests. On
    uvloop with httptools' parser, named rather than left to uvicorn's choice of what is installed
    (a third more signed-in requests a second than asyncio with h11)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
                                log_config=None, access_log=False, timeout_graceful_shutdown=5,
                                http="httptools", loop="uvloop")
        self.server = Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"api-{port}", daemon=True)

    def start(self, timeout: float) -> None:
        self.thread.start()

        def started() -> bool | None:
            if self.server.started:
                return True
            if not self.thread.is_alive():
                raise self._did_not_start()
            return None

        wait_for(started, timeout=timeout, what="the API to start", interval=0.02, timed_out=self._did_not_start)

    def _did_not_start(self) -> RuntimeError:
        return RuntimeError(f"the API on port {self.server.config.port} did not start")

    def stop(self, timeout: float) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


class LocalDeployment:
    """Everything a consortium needs, started on ``with`` and stopped (bounded) on exit.

    ``work_dir`` is kept afterwards when given (it must be empty or absent); otherwise a
    temporary folder is made and removed.
    """

    def __init__(self, work_dir: Path | None = None, *, departments: int | DepartmentPlan = 3,
                 anchor_interval: float = 1.0, project_root: Path = PROJECT_ROOT,
                 node_settings: Mapping[str, Any] | None = None) -> None:
        self.plan = local_plan(departments)
        if work_dir is not None and work_dir.exists() and (not work_dir.is_dir() or any(work_dir.iterdir())):
            raise ValueError(f"{work_dir} is not an empty folder")
        self.count = len(self.plan.departments)
        self.anchor_interval = anchor_interval
        self.node_settings = dict(node_settings or {})
        """Further settings of every department's node (a test suite's sign-in rate, say)."""
        self.project_root = project_root
        self._given_dir = work_dir
        self.work_dir = work_dir or Path()
        self.passphrase = ""
        self.chain: LocalChain | None = None
        self.departments: list[DepartmentApi] = []
        self.consumers: list[Participant] = []
        self.auditor: Participant | None = None
        self.coordinator: Participant | None = None
        self._nodes: list[NodeService] = []
        self._servers: list[Served] = []
        self._stack = ExitStack()

    # ------------------------------------------------------------ what it exposes

    @property
    def chain_url(self) -> str:
        assert self.chain is not None, "not started"
        return self.chain.url

    @property
    def manifest_path(self) -> Path:
        return self.work_dir / "deployment.json"

    @property
    def passphrase_path(self) -> Path:
        return self.work_dir / "passphrase"

    def department(self, code: str) -> DepartmentApi:
        return next(d for d in self.departments if d.code == code)

    def node(self, code: str) -> NodeService:
        """The node service behind department ``code``'s API (its database, its chain clients)."""
        return self._nodes[[d.code for d in self.departments].index(code)]

    @property
    def alive(self) -> bool:
        """Whether every API server still runs."""
        return bool(self._servers) and all(s.alive for s in self._servers)

    # ------------------------------------------------------------ starting and stopping

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> LocalDeployment:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the servers (and with them each node's background work), the nodes, the chain."""
        self._stack.close()

    def _start(self) -> None:
        private_umask()  # keys, passphrase and every node's data: this user's only, from creation
        if self._given_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="provledger-"))
            self._stack.callback(shutil.rmtree, self.work_dir, ignore_errors=True)
        else:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        n = self.count
        self.chain = LocalChain(find_anvil(self.project_root), accounts=2 * n + 4)
        self._stack.callback(self.chain.stop)
        self.chain.start()
        artifacts = load_artifacts(self.project_root / "build" / "contracts")
        w3 = self.chain.web3()
        accounts: list[LocalAccount] = [Account.from_key(k) for k in self.chain.private_keys]
        senders = [TransactionSender(w3, a, poll_interval=0.002) for a in accounts]
        codes, lead = self.plan.codes, self.plan.coordinator_index
        founders = [FoundingDepartment(department_id(d.code), d.name, accounts[n + 1 + i].address,
                                       accounts[1 + i].address) for i, d in enumerate(self.plan.departments)]
        manifest = deploy_suite(senders[0], artifacts, founders=founders)
        manifest.save(self.manifest_path)
        coordinator = Ledger(w3, manifest, artifacts, senders[0])
        coordinator.consortium.appoint_coordinator(accounts[1 + lead].address)
        coordinator.consortium.appoint_auditor(accounts[2 * n + 3].address)
        sponsors = [0, 1 % n]
        for c, sponsor in enumerate(sponsors):
            coordinator.as_account(senders[1 + sponsor]).consortium.register_consumer(accounts[2 * n + 1 + c].address)

        self.passphrase = secrets.token_hex(16)  # hex: never starts with "-", which a CLI takes for an option
        self.passphrase_path.write_text(self.passphrase + "\n")
        self.passphrase_path.chmod(0o600)
        keys = self.work_dir / "keys"
        names = ["coordinator", *codes, *(f"{c}-validator" for c in codes), "consumer-1", "consumer-2", "auditor"]
        paths = {name: write_keystore(accounts[i], keys / f"{name}.json", self.passphrase)
                 for i, name in enumerate(names)}
        self.coordinator = Participant("coordinator", "coordinator", accounts[0], paths["coordinator"])
        self.consumers = [Participant("consumer", f"consumer-{c + 1}", accounts[2 * n + 1 + c],
                                      paths[f"consumer-{c + 1}"], codes[sponsor]) for c, sponsor in enumerate(sponsors)]
        self.auditor = Participant("auditor", "auditor", accounts[2 * n + 3], paths["auditor"])

        for i, code in enumerate(codes):
            self._start_department(i, code, accounts[1 + i], paths[code])

    def _start_department(self, index: int, code: str, account: LocalAccount, keystore: Path) -> None:
        assert self.chain is not None
        data_dir = self.work_dir / code / "data"
        # Every field given, and no .env read: the deployment must not pick up a PROVLEDGER_* of the shell.
        settings = NodeSettings(  # type: ignore[call-arg]
            _env_file=None, department_id=code, chain_url=self.chain.url, manifest_path=self.manifest_path,
            keystore_path=keystore, passphrase=SecretStr(self.passphrase), passphrase_file=None, data_dir=data_dir,
            database_url=f"sqlite:///{(data_dir / 'node.db').resolve()}", confirmations=1,
            anchor_interval=self.anchor_interval, anchor_batch_size=1000, allow_demo_passphrase=False,
            **self.node_settings,
        )
        node = NodeService.start(settings)
        self._nodes.append(node)
        self._stack.callback(node.close)
        username, password = f"{code}.admin", secrets.token_hex(12)  # hex, as the passphrase
        with node.sessions() as session:
            create_staff(session, username, password, role="admin")
            session.commit()
        port = free_port()
        served = Served(create_app(node, domain=f"127.0.0.1:{port}"), port)
        self._stack.callback(served.stop, SERVER_TIMEOUT)
        served.start(SERVER_TIMEOUT)
        self._servers.append(served)
        self.departments.append(DepartmentApi(
            code=code, name=self.plan.name_of(code), url=f"http://127.0.0.1:{port}", address=account.address,
            coordinator=index == self.plan.coordinator_index, username=username, password=password,
            data_dir=data_dir))
