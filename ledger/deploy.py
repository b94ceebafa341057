"""Deploy the whole contract suite in one call, seat the founding departments, and keep a
manifest (chain id, addresses, ABI hashes, deployment block) to connect to it later."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from ledger.compile import ContractArtifact
from ledger.contracts import (
    AccessGrantsClient, AnchorRegistryClient, ConsortiumClient, DataRegistryClient, QualityBoardClient,
    UsageLogClient,
)
from ledger.errors import ManifestMismatch
from ledger.events import EventDecoder
from ledger.revert import ErrorDecoder
from ledger.rpc import RpcBatcher
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
    """Every contract client of one deployment, sharing one error and one event decoder, and
    one JSON-RPC batcher to the chain (:attr:`rpc`), closed by :meth:`close`.

    The clients send through ``sender`` as given (its account, nonces and error decoder); the
    Ledger adds the suite's custom errors to that decoder, which is its own :attr:`errors` too,
    so that a revert names the suite's error whether it is waited for through a client or the
    sender itself. What the decoder knew before stays. Without a sender the clients only read.
    """

    def __init__(
        self,
        w3: Web3,
        manifest: Manifest,
        artifacts: Mapping[str, ContractArtifact],
        sender: TransactionSender | None = None,
        *,
        check_code: bool = False,
        url: str | None = None,
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
        self.url = url or _http_url(w3)
        """The chain's JSON-RPC URL: ``url``, else the one ``w3`` talks to over HTTP."""
        self._rpc: RpcBatcher | None = None
        self._rpc_lock = threading.Lock()
        self.errors = sender.errors if sender is not None else ErrorDecoder()
        self.events = EventDecoder(w3)
        for name in SUITE:
            self.errors.add_abi(name, artifacts[name].abi)
            self.events.add_contract(name, manifest.addresses[name], artifacts[name].abi)
        self.sender = sender

        def client(cls: type[Any]) -> Any:
            name = cls.contract_name
            return cls(w3, manifest.addresses[name], artifacts[name].abi, sender, self.errors, lambda: self.rpc)

        self.consortium: ConsortiumClient = client(ConsortiumClient)
        self.registry: DataRegistryClient = client(DataRegistryClient)
        self.grants: AccessGrantsClient = client(AccessGrantsClient)
        self.usage: UsageLogClient = client(UsageLogClient)
        self.anchors: AnchorRegistryClient = client(AnchorRegistryClient)
        self.quality: QualityBoardClient = client(QualityBoardClient)

    @property
    def rpc(self) -> RpcBatcher:
        """The batcher to :attr:`url`, built on first use, one per Ledger, closed by :meth:`close`."""
        with self._rpc_lock:
            if self._rpc is None:
                if self.url is None:
                    raise ValueError("this Ledger's web3 does not talk HTTP: pass url= for JSON-RPC batches")
                self._rpc = RpcBatcher(self.url)
            return self._rpc

    def close(self) -> None:
        """Close the batcher's connections; a later :attr:`rpc` opens new ones."""
        with self._rpc_lock:
            rpc, self._rpc = self._rpc, None
        if rpc is not None:
            rpc.close()

    def as_account(self, sender: TransactionSender) -> Ledger:
        """The same deployment, sending as another account (with a batcher of its own)."""
        return Ledger(self.w3, self.manifest, self.artifacts, sender, url=self.url)


def _http_url(w3: Web3) -> str | None:
    provider = w3.provider
    return str(provider.endpoint_uri) if isinstance(provider, HTTPProvider) else None
