"""A consortium of departments on one machine: one geth per department sealing Clique blocks,
the contracts deployed with the departments as founders, and each department's node service."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.compile import ContractArtifact
from ledger.deploy import FoundingDepartment, Manifest, deploy_suite, department_id
from ledger.geth import GethNode, NodeStatus, clique_genesis, clique_web3, node_status, wait_in_sync, wait_until_peered
from ledger.sealing import start_sealing, wait_for_head
from ledger.tx import LIGHT_SCRYPT_N, TransactionSender, load_keystore, write_keystore
from node.consortium.members import (
    CONFIRMATIONS, DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, FUNDS, GAS_PRICE, STATE_FILE, DepartmentStatus, Member, new_member,
    send_funds,
)
from node.consortium.service import DepartmentNode
from node.settings import NodeSettings


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
               chain_id: int = DEFAULT_CHAIN_ID, period: int = 1, light_kdf: bool = False,
               coordinator: str | None = None, gas_limit: int = DEFAULT_GAS_LIMIT) -> Consortium:
        """New keys for every department and a genesis with their validators as the signers; the
        coordinator key goes to department ``coordinator`` (default: the first). ``light_kdf``
        encrypts the keys at geth's ``--lightkdf`` cost, for throwaway consortia."""
        if (directory / STATE_FILE).exists():
            raise FileExistsError(f"{directory / STATE_FILE} exists: open it instead")
        scrypt_n = LIGHT_SCRYPT_N if light_kdf else None
        with ThreadPoolExecutor(max_workers=4) as pool:
            members = list(pool.map(lambda d: new_member(directory, d[0], d[1], True, scrypt_n), departments))
        key = Account.create()
        lead = next(m for m in members if m.code == (coordinator or members[0].code))
        write_keystore(key, directory / lead.code / "keys" / "coordinator.json",
                       (directory / lead.code / "passphrase").read_text(), scrypt_n=scrypt_n)
        alloc = {a: FUNDS for m in members for a in (m.validator, m.service)} | {key.address: FUNDS}
        genesis = clique_genesis(chain_id, [m.validator for m in members], alloc, period=period, gas_limit=gas_limit)
        (directory / "genesis.json").write_text(json.dumps(genesis, indent=2))
        consortium = cls(directory, geth, {"chain_id": chain_id, "coordinator": lead.code,
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
                        node_id=member.node_id, ports=member.ports, gas_limit=self.gas_limit)

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
        return int(self._genesis()["config"]["clique"]["period"])

    @property
    def gas_limit(self) -> int:
        """The genesis's block gas limit, which every signer keeps its blocks at (``--miner.gaslimit``)."""
        return int(self._genesis()["gasLimit"], 16)

    def _genesis(self) -> dict[str, Any]:
        genesis: dict[str, Any] = json.loads((self.directory / "genesis.json").read_text())
        return genesis

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
            confirmations=CONFIRMATIONS, geth_ipc=self.nodes[code].ipc_path,
        )

    def start_services(self, artifacts: Mapping[str, ContractArtifact], codes: Sequence[str] | None = None) -> None:
        for code in codes or list(self.members):
            if code not in self.services:
                self.services[code] = DepartmentNode.start(self.settings(code), artifacts,
                                                           clique=self.nodes[code].ipc())

    def fund(self, address: str, amount: int = FUNDS // 1000) -> None:
        """Send ``amount`` from the coordinator: gas for a department that joined after the genesis."""
        send_funds(self.coordinator(), address, amount)

    # ------------------------------------------------------------ a department joins

    def add_department(self, code: str, name: str, timeout: float = 120.0) -> Member:
        """Keys, a funded service account and a running geth for a department that asks to join.

        Its geth syncs the chain but seals nothing until the members admit it in the Consortium
        contract and their nodes vote its validator in as a Clique signer.
        """
        if code in self.members:
            raise ValueError(f"department {code} is in the consortium already")
        member = new_member(self.directory, code, name, founder=False)
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
                                 else None, m.validator in signers, m.name) for code, m in self.members.items()]

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
