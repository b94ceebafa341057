"""A department's node on its own machine, as ``provledger node start`` and ``node join`` run it:
geth with its Clique signer, its seals released by a rule every founder computes alone, and,
once the coordinator handed out the manifest, the node service, the signer watcher and the API.
Also ``consortium deploy`` from the coordinator's node folder.

Founding without a controller: every founder's signer starts holding its seals (see
``ledger.sealing`` for the fork at block 1 this avoids). A founder lets its signer go once its
geth has every other founder as a peer and holds as many blocks as there are signers before it
in the sorted signer list: the first seals block 1, the second block 2 once block 1 reached it,
and so on, so each signer joins the one chain the earlier ones built. A node whose chain is past
the founding blocks, or whose validator is no signer yet (a joining department), seals at once.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.compile import ContractArtifact
from ledger.deploy import FoundingDepartment, Ledger, Manifest, deploy_suite, department_id
from ledger.events import EventDecoder, fetch_events
from ledger.geth import GethNode, NodeStatus, clique_web3, ensure_geth, node_status
from node.chain.signers import SignerWatcher
from node.consortium.folder import Facts, FolderError, NodeFolder, check_founders, genesis_signers, read_peers
from node.consortium.members import FUNDS, send_funds
from node.consortium.service import start_service
from node.service import NodeService
from node.settings import NodeSettings
from node.supervision import Supervised

log = logging.getLogger(__name__)

JOINING_FUNDS = FUNDS // 1000
"""What the coordinator's node sends a department's service account once it is admitted."""
CONSUMER_FUNDS = 10**18
"""What it sends a consumer once registered: the consumer signs its own requests and
acknowledgements (relayed by a node) and pays their gas, at 1 gwei about a thousand of them."""
FUNDED = {"DepartmentAdmitted": ("serviceAccount", JOINING_FUNDS), "ServiceAccountAdded": ("account", JOINING_FUNDS),
          "ConsumerRegistered": ("consumer", CONSUMER_FUNDS)}
"""The events that bring a new account into the consortium: its argument, and the gas it gets."""


def may_release(validator: str, signers: Sequence[str], status: NodeStatus, founders: int) -> bool:
    """Whether this node's signer may seal now, by the founding rule (module docstring):
    ``founders`` counts the other founders' enodes in the peers file."""
    if not status.up:
        return False
    ordered = sorted(s.lower() for s in signers)  # as Clique orders them
    if validator.lower() not in ordered or status.head >= len(ordered):
        return True
    return status.peers >= founders and status.head >= ordered.index(validator.lower())


class Server(Protocol):
    """What serves the node's API (the API layer makes it: node code imports no ``api``)."""

    @property
    def alive(self) -> bool: ...

    def start(self, timeout: float) -> None: ...

    def stop(self, timeout: float) -> None: ...


class OperatedNode:
    """geth, its signer and, once the manifest is there, the node service and its API."""

    def __init__(self, folder: NodeFolder, genesis: Path, peers: Path, manifest: Path | None, *,
                 serve: Callable[[NodeService, NodeFolder], Server],
                 artifacts: Mapping[str, ContractArtifact] | None = None) -> None:
        self.folder = folder
        self.serve = serve
        self.manifest_source = manifest
        self.artifacts = artifacts
        try:
            self.genesis: dict[str, Any] = json.loads(genesis.read_text())
        except (OSError, ValueError) as err:
            raise FolderError(f"{genesis}: not a genesis file ({err})") from err
        if not folder.genesis_path.exists():
            shutil.copyfile(genesis, folder.genesis_path)
        elif json.loads(folder.genesis_path.read_text()) != self.genesis:
            raise FolderError(f"{genesis} is not the genesis {folder.directory} started from")
        self.signers = genesis_signers(self.genesis)
        self.peers = [e for e in read_peers(peers) if folder.node_id not in e]
        self.node: GethNode | None = None
        self.released = False
        self.service: NodeService | None = None
        self.served: Server | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> OperatedNode:
        """geth initialised from the genesis on first start, peered, its signer holding."""
        chain_id = int(self.genesis["config"]["chainId"])
        node = self.node = self.folder.geth_node(ensure_geth(), chain_id, int(self.genesis["gasLimit"], 16))
        node.init(self.folder.genesis_path)
        node.set_peers(self.peers)
        node.start(seal=False)
        return self

    def step(self) -> None:
        """One turn of the foreground loop: release the seals when the rule allows, start the
        services once the manifest is there."""
        assert self.node is not None
        status = node_status(self.node.url)
        if not self.released and may_release(self.folder.validator, self.signers, status, len(self.peers)):
            self.node.seal()
            self.released = True
            log.info("%s: sealing released at block %d", self.folder.code, status.head)
        if self.service is None and self._manifest_ready(status):
            self.start_services()

    def _manifest_ready(self, status: NodeStatus) -> bool:
        """The manifest is in the folder (copied from where the coordinator handed it out), this
        node's chain holds the deployment (a joining node syncs first) and the department's
        service account is a member's (a joining department's, once admitted)."""
        assert self.node is not None
        if self.manifest_source is not None and self.manifest_source.is_file() \
                and not self.folder.manifest_path.exists():
            shutil.copyfile(self.manifest_source, self.folder.manifest_path)
        if not self.folder.manifest_path.is_file():
            return False
        manifest = Manifest.load(self.folder.manifest_path)
        if not status.up or status.head < manifest.deployment_block:
            return False
        w3 = clique_web3(self.node.url)
        if not all(w3.eth.get_code(Web3.to_checksum_address(a)) for a in manifest.addresses.values()):
            return False
        # A joining department's service account serves once the members admitted it.
        consortium = Ledger(w3, manifest, self._artifacts()).consortium
        return consortium.department_of(self.folder.service_account) == department_id(self.folder.code)

    def _artifacts(self) -> Mapping[str, ContractArtifact]:
        from node.service import load_artifacts

        if self.artifacts is None:
            self.artifacts = load_artifacts()
        return self.artifacts

    def start_services(self) -> None:
        assert self.node is not None
        settings = self.folder.settings(NodeSettings)
        self.service = start_service(settings, self._artifacts())
        consortium = self.service.ledger.consortium
        watcher = SignerWatcher(consortium, from_block=self.service.ledger.manifest.deployment_block,
                                confirmations=settings.confirmations, clique=self.node.ipc())
        self._threads.append(threading.Thread(target=watcher.run, args=(self._stop,), name="signers", daemon=True))
        if self.folder.coordinator is not None:
            funder = Funder(self.folder, self.service.ledger)
            loop = Supervised("funds", funder.step, idle=1.0)
            self._threads.append(threading.Thread(target=loop.run, args=(self._stop,), name="funds", daemon=True))
        for thread in self._threads:
            thread.start()
        self.served = self.serve(self.service, self.folder)
        self.served.start(60)
        log.info("%s: node service and API on http://127.0.0.1:%d", self.folder.code, self.folder.api_port)

    @property
    def alive(self) -> bool:
        return self.node is not None and self.node.pid is not None and (self.served is None or self.served.alive)

    def close(self) -> None:
        """Stop the API, the node service and its threads, then geth and its signer."""
        self._stop.set()
        if self.served is not None:
            self.served.stop(30)
        for thread in self._threads:
            thread.join(timeout=30)
        if self.service is not None:
            self.service.close()
        if self.node is not None:
            self.node.stop()


class Funder:
    """On the coordinator's node: gas for each account the consortium takes in after the genesis
    (an admitted department's service account, a department's new service account, a registered
    consumer), sent from the coordinator account once the event is a few blocks deep, when the
    account holds less than half of it (founders' accounts hold the genesis funds)."""

    def __init__(self, folder: NodeFolder, ledger: Ledger) -> None:
        self.sender = folder.coordinator_sender()
        self.w3 = self.sender.w3
        consortium = ledger.consortium
        abi: list[dict[str, Any]] = list(consortium.contract.abi)  # type: ignore[arg-type]
        self.decoder = EventDecoder(self.w3).add_contract("Consortium", consortium.address, abi)
        self.topics = ["0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                       for item in abi if item.get("type") == "event" and item.get("name") in FUNDED]
        self.next_block = ledger.manifest.deployment_block

    def step(self) -> int:
        last = self.w3.eth.block_number - 2
        if last < self.next_block:
            return 0
        sent = 0
        for event in fetch_events(self.w3, self.decoder, self.next_block, last, topics=[self.topics]):
            name, amount = FUNDED[event.name]
            account = Web3.to_checksum_address(event.args[name])
            if self.w3.eth.get_balance(account) < amount // 2:
                self.send(account, amount)
                sent += 1
        self.next_block = last + 1
        return sent

    def send(self, account: str, amount: int) -> None:
        send_funds(self.sender, account, amount)
        log.info("funds: %d wei sent to %s", amount, account)


def deploy(folder: NodeFolder, facts: Sequence[Facts], out: Path,
           artifacts: Mapping[str, ContractArtifact] | None = None) -> Manifest:
    """From the coordinator's node folder: the contracts, the founders seated under their names,
    the coordinator's service account appointed coordinator beside the coordinator key; the
    manifest written to ``out`` (and into the folder)."""
    from node.service import load_artifacts

    check_founders(facts)
    if folder.coordinator is None:
        raise FolderError(f"{folder.directory} holds no coordinator key: run deploy in the coordinator's node folder")
    if out.exists():
        raise FolderError(f"{out} exists: the contracts are deployed already")
    artifacts = artifacts or load_artifacts()
    sender = folder.coordinator_sender()
    founders = [FoundingDepartment(department_id(f.code), f.name, f.validator, f.service_account) for f in facts]
    manifest = deploy_suite(sender, artifacts, founders=founders)
    Ledger(sender.w3, manifest, artifacts, sender).consortium.appoint_coordinator(folder.service_account)
    manifest.save(folder.manifest_path)
    manifest.save(out)
    return manifest
