"""``python -m scripts.consortium up|down|status``: a consortium of departments on one machine.

``up --departments N`` gives each department a validator key, a node key and a service
account, writes a Clique genesis whose signers are the departments' validators, starts one geth
per department on 127.0.0.1 peered with the others, starts their sealing one signer at a time
(``ledger.sealing``: a start cannot deadlock), deploys the contracts with the departments as
founders (the first department holds the coordinator key) and runs each department's node
service against its own geth until stopped. ``down`` stops it from another shell; ``status``
shows each node's peers, head, lag and the signers. ``up`` on an existing folder starts the
same consortium again.

The consortium folder (default ``build/consortium``):

    consortium.json    chain id, departments (accounts, node id, ports), process ids
    genesis.json       the Clique genesis
    deployment.json    the contracts' manifest
    <code>/passphrase  the department's keystore passphrase (0600)
    <code>/keys/       service.json (node service account), node.json (p2p key), coordinator.json
    <code>/geth/       geth's data (0700): keystore/ (validator key), config.toml (peers), geth.log,
                       geth.ipc (every API), signer.ipc (the validator's Clique signer), signer.log
    <code>/data/       the node service's SQLite database
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.types import Wei

from ledger.compile import PROJECT_ROOT, ContractArtifact
from ledger.deploy import FoundingDepartment, Manifest, deploy_suite, department_id
from ledger.errors import LedgerError
from ledger.geth import (
    DEFAULT_GETH_DIR, GethNode, GethPorts, NodeStatus, clique_genesis, clique_web3, create_node_key, create_validator,
    ensure_geth, node_status, stop_pid, wait_in_sync, wait_until_peered,
)
from ledger.sealing import start_sealing, wait_for_head
from ledger.tx import LIGHT_SCRYPT_N, TransactionSender, load_keystore, write_keystore
from node.errors import NodeError
from node.service import NodeService, load_artifacts
from node.settings import NodeSettings
from node.chain.signers import SignerWatcher

log = logging.getLogger(__name__)

DEFAULT_DIR = PROJECT_ROOT / "build" / "consortium"
DEFAULT_CHAIN_ID = 20267
DEPARTMENTS = (
    ("stats-bureau", "Statistics Bureau"), ("health-commission", "Health Commission"),
    ("public-security", "Public Security Bureau"), ("natural-resources", "Natural Resources Bureau"),
    ("transport-bureau", "Transport Bureau"),
)
STATE_FILE = "consortium.json"
FUNDS = 10**24
"""What the genesis gives each founder's account, in wei; a joining department gets a thousandth."""
GAS_PRICE = Wei(10**9)
"""Every sender pays 1 gwei: far above the 7-wei base fee, so any signer includes the transaction
even after busy blocks raised the base fee (a sender keeps the price it started with)."""
CONFIRMATIONS = 3

# ---------------------------------------------------------------- one department's node service


def start_service(settings: NodeSettings, artifacts: Mapping[str, ContractArtifact]) -> NodeService:
    """The department's node service on its own geth, paying the consortium's fixed gas price
    (geth 1.13 raises a zero miner price to 1 gwei, so the network runs on one known price)."""
    service = NodeService.start(settings, dict(artifacts))
    service.sender.gas_price = GAS_PRICE
    service.sender.poll_interval = 0.1
    return service


class DepartmentNode:
    """A department's node service with two threads: one sends its outbox, one keeps its
    geth's Clique votes in step with membership. Both wait out a geth that is down."""

    def __init__(self, service: NodeService, watcher: SignerWatcher, *, retry_delay: float = 1.0) -> None:
        self.service = service
        self.watcher = watcher
        self.retry_delay = retry_delay
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        code = service.settings.department_id
        self._threads = [
            threading.Thread(target=self._keep_running, args=(self._send_outbox,), name=f"outbox-{code}", daemon=True),
            threading.Thread(target=self._keep_running, args=(watcher.run,), name=f"signers-{code}", daemon=True),
        ]

    @classmethod
    def start(cls, settings: NodeSettings, artifacts: Mapping[str, ContractArtifact], *, clique: Web3
              ) -> DepartmentNode:
        """``clique`` is the geth's IPC connection: its HTTP endpoint takes no votes."""
        service = start_service(settings, artifacts)
        watcher = SignerWatcher(service.ledger.consortium, from_block=service.ledger.manifest.deployment_block,
                                confirmations=settings.confirmations, clique=clique)
        node = cls(service, watcher)
        for thread in node._threads:
            thread.start()
        return node

    def _send_outbox(self, stop: threading.Event) -> None:
        self.service.outbox.run(stop, idle_sleep=0.1)

    def _keep_running(self, loop: Callable[[threading.Event], None]) -> None:
        while not self._stop.is_set():
            try:
                loop(self._stop)
            # The loops wait out ChainUnavailable themselves; anything else a dead geth raises
            # (a refused connection inside web3, a refused send) must not end them either:
            # what the outbox holds is safe in SQL and goes out once the node answers.
            except Exception as err:
                self.last_error = err
                log.warning("%s: %s; retrying", threading.current_thread().name, err)
                self._stop.wait(self.retry_delay)

    def wait_idle(self, timeout: float = 180.0) -> None:
        """Wait until every write the outbox holds is confirmed or failed."""
        deadline = time.monotonic() + timeout
        while (left := self.service.outbox.open_count()) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{left} writes still open after {timeout:.0f} s (last error: {self.last_error})")
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.service.close()


# ---------------------------------------------------------------- the consortium


@dataclass
class Member:
    """A department as the consortium folder records it."""

    code: str
    name: str
    validator: str
    service: str
    node_id: str
    ports: GethPorts
    founder: bool = True
    pid: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(**{**data, "ports": GethPorts(**data["ports"])})


@dataclass(frozen=True)
class DepartmentStatus:
    code: str
    validator: str
    node: NodeStatus
    lag: int | None
    signer: bool


def _new_member(directory: Path, code: str, name: str, founder: bool, scrypt_n: int | None = None) -> Member:
    folder = directory / code
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    passphrase = secrets.token_urlsafe(24)
    password_file = folder / "passphrase"
    password_file.touch(mode=0o600)
    password_file.write_text(passphrase)
    validator = create_validator(folder / "geth" / "keystore", passphrase, scrypt_n=scrypt_n)
    node_id = create_node_key(folder / "keys" / "node.json", passphrase, scrypt_n=scrypt_n)
    service = Account.create()
    write_keystore(service, folder / "keys" / "service.json", passphrase, scrypt_n=scrypt_n)
    return Member(code, name, validator, service.address, node_id, GethPorts.free(), founder)


class Consortium:
    """The departments' geth nodes, the deployment and the node services of one folder."""

    def __init__(self, directory: Path, geth: Path, state: dict[str, Any]) -> None:
        self.directory = directory
        self.geth = geth
        self.chain_id: int = state["chain_id"]
        self.coordinator_code: str = state["coordinator"]
        self.up_pid: int | None = state.get("up_pid")
        self.members = {m["code"]: Member.from_json(m) for m in state["departments"]}
        self.nodes = {code: self._geth_node(m) for code, m in self.members.items()}
        self.services: dict[str, DepartmentNode] = {}
        self._coordinator: TransactionSender | None = None

    @classmethod
    def create(cls, directory: Path, departments: Sequence[tuple[str, str]], *, geth: Path,
               chain_id: int = DEFAULT_CHAIN_ID, period: int = 1, light_kdf: bool = False) -> Consortium:
        """New keys for every department and a genesis with their validators as the signers;
        ``light_kdf`` encrypts the keys at geth's ``--lightkdf`` cost, for throwaway consortia."""
        if (directory / STATE_FILE).exists():
            raise FileExistsError(f"{directory / STATE_FILE} exists: open it instead")
        scrypt_n = LIGHT_SCRYPT_N if light_kdf else None
        with ThreadPoolExecutor(max_workers=4) as pool:
            members = list(pool.map(lambda d: _new_member(directory, d[0], d[1], True, scrypt_n), departments))
        coordinator = Account.create()
        first = members[0]
        write_keystore(coordinator, directory / first.code / "keys" / "coordinator.json",
                       (directory / first.code / "passphrase").read_text(), scrypt_n=scrypt_n)
        alloc = {a: FUNDS for m in members for a in (m.validator, m.service)} | {coordinator.address: FUNDS}
        genesis = clique_genesis(chain_id, [m.validator for m in members], alloc, period=period)
        (directory / "genesis.json").write_text(json.dumps(genesis, indent=2))
        consortium = cls(directory, geth, {"chain_id": chain_id, "coordinator": first.code,
                                           "departments": [asdict(m) for m in members]})
        for node in consortium.nodes.values():
            node.init(directory / "genesis.json")
            node.set_peers(consortium.enodes())
        consortium.save()
        return consortium

    @classmethod
    def open(cls, directory: Path, geth: Path) -> Consortium:
        return cls(directory, geth, json.loads((directory / STATE_FILE).read_text()))

    def save(self) -> None:
        state = {"chain_id": self.chain_id, "coordinator": self.coordinator_code, "up_pid": self.up_pid,
                 "departments": [asdict(m) for m in self.members.values()]}
        temporary = self.directory / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.directory / STATE_FILE)

    @property
    def manifest_path(self) -> Path:
        return self.directory / "deployment.json"

    def enodes(self) -> list[str]:
        return [node.enode for node in self.nodes.values()]

    def _geth_node(self, member: Member) -> GethNode:
        folder = self.directory / member.code
        return GethNode(self.geth, folder / "geth", network_id=self.chain_id, validator=member.validator,
                        password_file=folder / "passphrase", node_keystore=folder / "keys" / "node.json",
                        node_id=member.node_id, ports=member.ports)

    # ------------------------------------------------------------ geth nodes

    def start_chain(self, timeout: float = 120.0, blocks: int = 3) -> list[NodeStatus]:
        """Start every geth with its signer holding, wait until each has all the others as peers,
        let the signers seal one at a time, and wait until every node holds ``blocks`` more blocks."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda code: self.start_node(code, save=False, seal=False), list(self.nodes)))
        self.save()
        nodes = list(self.nodes.values())
        statuses = wait_until_peered([node.url for node in nodes], timeout)
        step = 2 * self.period + 5
        start_sealing(nodes, step_timeout=step)
        return wait_for_head(nodes, max(s.head for s in statuses) + blocks, stall_after=4 * step, timeout=2 * timeout,
                             step_timeout=step)

    def start_node(self, code: str, *, save: bool = True, seal: bool = True) -> GethNode:
        """Start department ``code``'s geth; with ``seal`` it seals as soon as it runs (one node
        joining a running chain; a whole consortium starts its signers in order instead)."""
        node = self.nodes[code].start(seal=seal)
        self.members[code].pid = node.pid
        if save:
            self.save()
        return node

    def stop_node(self, code: str) -> None:
        self.nodes[code].stop()
        self.members[code].pid = None
        self.save()

    def wait_in_sync(self, timeout: float = 120.0) -> tuple[int, str]:
        """The block every running node holds at one height, once they agree on it."""
        return wait_in_sync([n.url for n in self.nodes.values() if n.pid is not None], timeout)

    @property
    def period(self) -> int:
        genesis = json.loads((self.directory / "genesis.json").read_text())
        return int(genesis["config"]["clique"]["period"])

    # ------------------------------------------------------------ contracts and services

    def coordinator(self) -> TransactionSender:
        if self._coordinator is None:
            folder = self.directory / self.coordinator_code
            account = load_keystore(folder / "keys" / "coordinator.json", (folder / "passphrase").read_text())
            # One block deep is enough for the coordinator's own transactions: any fork applies
            # them in nonce order, and a reorg puts a dropped one back in the pool, same address.
            self._coordinator = TransactionSender(clique_web3(self.nodes[self.coordinator_code].url), account,
                                                  confirmations=1, poll_interval=0.1)
            self._coordinator.gas_price = GAS_PRICE
        return self._coordinator

    def deploy(self, artifacts: Mapping[str, ContractArtifact]) -> Manifest:
        """Deploy the contracts with the founding departments seated, once."""
        if self.manifest_path.is_file():
            return Manifest.load(self.manifest_path)
        founders = [FoundingDepartment(department_id(m.code), m.name, m.validator, m.service)
                    for m in self.members.values() if m.founder]
        manifest = deploy_suite(self.coordinator(), artifacts, founders=founders)
        manifest.save(self.manifest_path)
        return manifest

    def settings(self, code: str) -> NodeSettings:
        folder = self.directory / code
        return NodeSettings(  # type: ignore[call-arg]
            _env_file=None, department_id=code, chain_url=self.nodes[code].url, manifest_path=self.manifest_path,
            keystore_path=folder / "keys" / "service.json", passphrase=None, passphrase_file=folder / "passphrase",
            data_dir=folder / "data", database_url=f"sqlite:///{(folder / 'data' / 'node.db').resolve()}",
            confirmations=CONFIRMATIONS,
        )

    def start_services(self, artifacts: Mapping[str, ContractArtifact], codes: Sequence[str] | None = None) -> None:
        for code in codes or list(self.members):
            if code not in self.services:
                self.services[code] = DepartmentNode.start(self.settings(code), artifacts,
                                                           clique=self.nodes[code].ipc())

    def fund(self, address: str, amount: int = FUNDS // 1000) -> None:
        """Send ``amount`` from the coordinator: gas for a department that joined after the genesis."""
        sender = self.coordinator()
        params = {"to": address, "value": amount, "gas": 21000, "gasPrice": sender.gas_price,
                  "chainId": sender.chain_id}
        _, raw, tx_hash = sender.sign_next(params)
        try:
            sender.w3.eth.send_raw_transaction(raw)
        except Exception:
            sender.nonces.resync()
            raise
        sender.wait(tx_hash)

    # ------------------------------------------------------------ a department joins

    def add_department(self, code: str, name: str, timeout: float = 120.0) -> Member:
        """Keys, a funded service account and a running geth for a department that asks to join.

        Its geth syncs the chain but seals nothing until the members admit it in the Consortium
        contract and their nodes vote its validator in as a Clique signer.
        """
        if code in self.members:
            raise ValueError(f"department {code} is in the consortium already")
        member = _new_member(self.directory, code, name, founder=False)
        self.members[code] = member
        node = self.nodes[code] = self._geth_node(member)
        node.init(self.directory / "genesis.json")
        for other in self.nodes.values():
            other.set_peers(self.enodes())
        self.start_node(code)
        for other in self.nodes.values():
            if other is not node and other.pid is not None:
                other.control("admin_addTrustedPeer", [node.enode])
                other.control("admin_addPeer", [node.enode])
        self.fund(member.service)
        self.wait_in_sync(timeout)
        return member

    # ------------------------------------------------------------ status and shutdown

    def status(self) -> list[DepartmentStatus]:
        nodes = {code: node_status(node.url, ipc_path=node.ipc_path) for code, node in self.nodes.items()}
        running = [s for s in nodes.values() if s.up]
        top = max(running, key=lambda s: s.head, default=None)
        signers = set(top.signers) if top else set()
        return [DepartmentStatus(code, m.validator, nodes[code], top.head - nodes[code].head if top and nodes[code].up
                                 else None, m.validator in signers) for code, m in self.members.items()]

    def close(self) -> None:
        """Stop the node services, then every geth."""
        for service in self.services.values():
            service.stop()
        self.services.clear()
        with ThreadPoolExecutor(max_workers=max(len(self.nodes), 1)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes.values()))
        for member in self.members.values():
            member.pid = None
        self.save()


# ---------------------------------------------------------------- operator commands


def up(directory: Path, departments: int, *, geth_dir: Path = DEFAULT_GETH_DIR, chain_id: int = DEFAULT_CHAIN_ID,
       period: int = 1, artifacts: Mapping[str, ContractArtifact] | None = None, services: bool = True,
       light_kdf: bool = False) -> Consortium:
    """Start the consortium in ``directory`` (created with ``departments`` departments if new,
    its keys at geth's ``--lightkdf`` cost with ``light_kdf``), and, with ``services``, deploy
    the contracts if not yet and start every department's node service (without, only the
    chain runs)."""
    if not 3 <= departments <= len(DEPARTMENTS):
        raise ValueError(f"--departments must be 3 to {len(DEPARTMENTS)}")
    geth = ensure_geth(geth_dir)
    if (directory / STATE_FILE).exists():
        consortium = Consortium.open(directory, geth)
    else:
        consortium = Consortium.create(directory, DEPARTMENTS[:departments], geth=geth, chain_id=chain_id,
                                       period=period, light_kdf=light_kdf)
        log.info("keys and genesis of %d departments written to %s", departments, directory)
    try:
        consortium.start_chain()
        log.info("%d geth nodes peered and sealing", len(consortium.nodes))
        if not services:
            return consortium
        artifacts = artifacts or load_artifacts()
        consortium.deploy(artifacts)
        log.info("contracts: %s", consortium.manifest_path)
        consortium.start_services(artifacts)
        log.info("%d department node services started", len(consortium.services))
    except BaseException:
        consortium.close()
        raise
    return consortium


def _alive(pid: int | None, marker: str) -> bool:
    try:
        return pid is not None and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def down(directory: Path, timeout: float = 60.0) -> list[str]:
    """Stop the ``up`` process serving ``directory`` and any geth it left; returns what stopped."""
    state = json.loads((directory / STATE_FILE).read_text())
    stopped = []
    up_pid = state.get("up_pid")
    if _alive(up_pid, "scripts.consortium"):
        os.kill(up_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(up_pid, "scripts.consortium") and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped.append(f"up process {up_pid}")
    for member in json.loads((directory / STATE_FILE).read_text())["departments"]:
        if member.get("pid") and stop_pid(member["pid"], directory / member["code"] / "geth"):
            stopped.append(f"geth of {member['code']} ({member['pid']})")
    state = json.loads((directory / STATE_FILE).read_text())
    state["up_pid"] = None
    for member in state["departments"]:
        member["pid"] = None
    (directory / STATE_FILE).write_text(json.dumps(state, indent=2))
    return stopped


def print_status(statuses: Sequence[DepartmentStatus]) -> None:
    print(f"{'department':<20} {'validator':<44} {'url':<24} {'up':<4} {'peers':>5} {'head':>7} {'lag':>4}  signer")
    for s in statuses:
        print(f"{s.code:<20} {s.validator:<44} {s.node.url:<24} {'yes' if s.node.up else 'no':<4} {s.node.peers:>5} "
              f"{s.node.head:>7} {'' if s.lag is None else s.lag:>4}  {'yes' if s.signer else 'no'}")
    signers = next((s.node.signers for s in sorted(statuses, key=lambda s: -s.node.head) if s.node.up), ())
    print(f"clique signers ({len(signers)}): {', '.join(signers)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.consortium", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start (creating if new) a consortium and serve it until stopped")
    start.add_argument("--departments", type=int, default=3, help=f"3 to {len(DEPARTMENTS)} (default 3)")
    start.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    start.add_argument("--period", type=int, default=1, help="seconds between blocks (default 1)")
    start.add_argument("--chain-only", action="store_true", help="run the geth nodes only: no contracts, no services")
    for command in (start, commands.add_parser("down", help="stop it"), commands.add_parser("status", help="show it")):
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"consortium folder (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    if args.command in ("down", "status") and not (directory / STATE_FILE).is_file():
        print(f"error: no consortium in {directory}", file=sys.stderr)
        return 2
    if args.command == "down":
        print("\n".join(down(directory)) or "nothing was running")
        return 0
    if args.command == "status":
        print_status(Consortium.open(directory, DEFAULT_GETH_DIR / "bin" / "geth").status())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        consortium = up(directory, args.departments, chain_id=args.chain_id, period=args.period,
                        services=not args.chain_only)
    except (LedgerError, NodeError, ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        consortium.up_pid = os.getpid()
        consortium.save()
        print_status(consortium.status())
        print(f"serving {len(consortium.services)} department nodes; Ctrl-C or `down --dir {directory}` stops them",
              flush=True)
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        consortium.up_pid = None
        consortium.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
