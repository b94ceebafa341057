"""Deploy the whole contract suite in one call, seat the founding departments, and keep a
manifest (chain id, addresses, ABI hashes, deployment block) to connect to it later."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from ledger.compile import ContractArtifact
from ledger.contracts import (
    AccessGrantsClient, AnchorRegistryClient, ConsortiumClient, DataRegistryClient, QualityBoardClient,
    UsageLogClient,
)
from ledger.errors import ManifestMismatch
from ledger.events import EventDecoder
from ledger.revert import ErrorDecoder
from ledger.tx import TransactionSender

SUITE = ("Consortium", "DataRegistry", "AccessGrants", "UsageLog", "AnchorRegistry", "QualityBoard")
DEFAULT_VOTING_PERIOD = 7 * 24 * 3600


@dataclass(frozen=True)
class FoundingDepartment:
    id: bytes
    name: str
    validator: str
    service_account: str


@dataclass(frozen=True)
class Manifest:
    chain_id: int
    deployment_block: int
    deployer: str
    addresses: dict[str, str]
    abi_hashes: dict[str, str] = field(default_factory=dict)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data: dict[str, Any] = json.loads(Path(path).read_text())
        return cls(**data)


def abi_hash(abi: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(abi, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def department_id(code: str) -> bytes:
    """The bytes32 id of a department code such as ``"stats-bureau"`` (at most 31 bytes)."""
    raw = code.encode()
    if not raw or len(raw) > 31:
        raise ValueError(f"department code {code!r} must be 1 to 31 bytes")
    return raw.ljust(32, b"\x00")


def _deploy(sender: TransactionSender, artifact: ContractArtifact, *args: Any) -> str:
    factory = sender.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = sender.deploy(factory.constructor(*args))
    return str(receipt["contractAddress"])


def deploy_suite(
    sender: TransactionSender,
    artifacts: Mapping[str, ContractArtifact],
    *,
    coordinator: str | None = None,
    founders: Sequence[FoundingDepartment] = (),
    voting_period: int = DEFAULT_VOTING_PERIOD,
    close_founding: bool = True,
) -> Manifest:
    """Deploy and wire every contract; ``sender`` becomes coordinator unless another is named.

    Founders are seated only when the sender is the coordinator.
    """
    w3 = sender.w3
    first_block = w3.eth.block_number + 1
    coordinator = coordinator or sender.address
    consortium = _deploy(sender, artifacts["Consortium"], coordinator, voting_period)
    registry = _deploy(sender, artifacts["DataRegistry"], consortium)
    grants = _deploy(sender, artifacts["AccessGrants"], consortium, registry)
    usage = _deploy(sender, artifacts["UsageLog"], consortium, registry, grants)
    anchors = _deploy(sender, artifacts["AnchorRegistry"], consortium)
    quality = _deploy(sender, artifacts["QualityBoard"], consortium, registry)
    addresses = dict(zip(SUITE, (consortium, registry, grants, usage, anchors, quality)))
    manifest = Manifest(
        chain_id=sender.chain_id,
        deployment_block=first_block,
        deployer=sender.address,
        addresses=addresses,
        abi_hashes={name: abi_hash(artifacts[name].abi) for name in SUITE},
    )
    if founders or close_founding:
        client = Ledger(w3, manifest, artifacts, sender).consortium
        for f in founders:
            client.seat_founding_department(f.id, f.name, f.validator, f.service_account)
        if close_founding:
            client.close_founding()
    return manifest


class Ledger:
    """Every contract client of one deployment, sharing one error and one event decoder."""

    def __init__(
        self,
        w3: Web3,
        manifest: Manifest,
        artifacts: Mapping[str, ContractArtifact],
        sender: TransactionSender | None = None,
        *,
        check_code: bool = False,
    ) -> None:
        for name in SUITE:
            expected = manifest.abi_hashes.get(name)
            if expected and expected != abi_hash(artifacts[name].abi):
                raise ManifestMismatch(name, "its ABI differs from the compiled artifact")
            if check_code and w3.eth.get_code(Web3.to_checksum_address(manifest.addresses[name])) in (b"", b"\x00"):
                raise ManifestMismatch(name, f"no code at {manifest.addresses[name]}")
        self.w3 = w3
        self.manifest = manifest
        self.artifacts = artifacts
        self.errors = ErrorDecoder()
        self.events = EventDecoder(w3)
        for name in SUITE:
            self.errors.add_abi(name, artifacts[name].abi)
            self.events.add_contract(name, manifest.addresses[name], artifacts[name].abi)
        if sender is not None:
            sender.errors = self.errors
        self.sender = sender

        def client(cls: type[Any]) -> Any:
            name = cls.contract_name
            return cls(w3, manifest.addresses[name], artifacts[name].abi, sender, self.errors)

        self.consortium: ConsortiumClient = client(ConsortiumClient)
        self.registry: DataRegistryClient = client(DataRegistryClient)
        self.grants: AccessGrantsClient = client(AccessGrantsClient)
        self.usage: UsageLogClient = client(UsageLogClient)
        self.anchors: AnchorRegistryClient = client(AnchorRegistryClient)
        self.quality: QualityBoardClient = client(QualityBoardClient)

    def as_account(self, sender: TransactionSender) -> Ledger:
        """The same deployment, sending as another account."""
        return Ledger(self.w3, self.manifest, self.artifacts, sender)
