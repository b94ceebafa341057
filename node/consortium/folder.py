"""One department's node folder on its own machine (``provledger node init``) and the public
files the departments exchange: each one's facts, the genesis and the peers list
(``provledger consortium genesis``).

The folder ``D`` (0700):

    node.json          the node's settings: code, name, host, ports, passphrase file, addresses
    facts.json         the public facts to hand out: code, name, validator, service account, enode
    passphrase         the keystores' passphrase (0600), only when it was typed at ``node init``
    keys/              node.json (p2p key), service.json (node service), coordinator.json (0600 each)
    geth/              geth's data (0700): keystore/validator-<address>.json, sockets, logs
    data/              the node service's SQLite database
    manifest.json      the contracts' manifest, copied in once the coordinator handed it out
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from web3 import Web3

from ledger.geth import GethNode, GethPorts, clique_genesis, create_node_key, create_validator
from ledger.tx import LIGHT_SCRYPT_N, TransactionSender, load_keystore, write_keystore
from node.consortium.members import CONFIRMATIONS, DEFAULT_GAS_LIMIT, FUNDS, GAS_PRICE
from node.settings import NodeSettings

S = TypeVar("S", bound=NodeSettings)

SETTINGS_FILE = "node.json"
FACTS_FILE = "facts.json"


class FolderError(ValueError):
    """A node folder or a public file that is missing or does not read as expected."""


@dataclass(frozen=True)
class Facts:
    """What a department hands out about its node: nothing secret."""

    code: str
    name: str
    validator: str
    service_account: str
    enode: str
    coordinator: str | None = None

    @classmethod
    def load(cls, path: Path) -> Facts:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: data.get(k) for k in ("code", "name", "validator", "service_account", "enode",
                                                   "coordinator")})
        except (OSError, ValueError, TypeError) as err:
            raise FolderError(f"{path}: not a department's facts file ({err})") from err


@dataclass
class NodeFolder:
    """A department's node folder and the settings ``node init`` wrote into it."""

    directory: Path
    code: str
    name: str
    host: str
    ports: GethPorts
    api_port: int
    passphrase_file: Path
    validator: str
    service_account: str
    node_id: str
    coordinator: str | None = None
    netrestrict: str = "127.0.0.1/32"
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ create and open

    @classmethod
    def init(cls, directory: Path, *, code: str, name: str, host: str, ports: GethPorts, api_port: int,
             passphrase: str | None, passphrase_file: Path | None, coordinator: bool = False,
             netrestrict: str | None = None, light_kdf: bool = False) -> NodeFolder:
        """New keys, encrypted, and the folder's settings; refuses a folder already initialised."""
        directory = directory.resolve()
        if (directory / SETTINGS_FILE).exists():
            raise FolderError(f"{directory} holds a node already ({SETTINGS_FILE})")
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        if passphrase_file is None:
            if not passphrase:
                raise FolderError("no passphrase")
            passphrase_file = directory / "passphrase"
            passphrase_file.touch(mode=0o600)
            passphrase_file.write_text(passphrase)
        secret = read_passphrase(passphrase_file)
        scrypt_n = LIGHT_SCRYPT_N if light_kdf else None
        (directory / "keys").mkdir(mode=0o700, exist_ok=True)
        validator = create_validator(directory / "geth" / "keystore", secret, scrypt_n=scrypt_n)
        for sub in (directory / "geth", directory / "geth" / "keystore"):
            sub.chmod(0o700)
        node_id = create_node_key(directory / "keys" / "node.json", secret, scrypt_n=scrypt_n)
        service = Account.create()
        write_keystore(service, directory / "keys" / "service.json", secret, scrypt_n=scrypt_n)
        lead = None
        if coordinator:
            key = Account.create()
            write_keystore(key, directory / "keys" / "coordinator.json", secret, scrypt_n=scrypt_n)
            lead = str(key.address)
        folder = cls(directory, code, name, host, ports, api_port, passphrase_file.resolve(), validator,
                     str(service.address), node_id, lead, netrestrict or f"{host}/32")
        folder.save()
        (directory / FACTS_FILE).write_text(json.dumps(asdict(folder.facts()), indent=2) + "\n")
        return folder

    @classmethod
    def open(cls, directory: Path) -> NodeFolder:
        directory = directory.resolve()
        try:
            data = json.loads((directory / SETTINGS_FILE).read_text())
            return cls(directory, **{**data, "ports": GethPorts(**data["ports"]),
                                     "passphrase_file": Path(data["passphrase_file"])})
        except FileNotFoundError as err:
            raise FolderError(f"{directory} is no node folder: run provledger node init first") from err
        except (ValueError, TypeError, KeyError) as err:
            raise FolderError(f"{directory / SETTINGS_FILE} does not read: {err}") from err

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "directory"}
        data["passphrase_file"] = str(self.passphrase_file)
        (self.directory / SETTINGS_FILE).write_text(json.dumps(data, indent=2) + "\n")

    # ------------------------------------------------------------ what the folder holds

    def facts(self) -> Facts:
        return Facts(self.code, self.name, self.validator, self.service_account,
                     f"enode://{self.node_id}@{self.host}:{self.ports.p2p}", self.coordinator)

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def genesis_path(self) -> Path:
        return self.directory / "genesis.json"

    def passphrase(self) -> str:
        return read_passphrase(self.passphrase_file)

    def geth_node(self, binary: Path, chain_id: int, gas_limit: int) -> GethNode:
        return GethNode(binary, self.directory / "geth", network_id=chain_id, validator=self.validator,
                        password_file=self.passphrase_file, node_keystore=self.directory / "keys" / "node.json",
                        node_id=self.node_id, ports=self.ports, gas_limit=gas_limit, netrestrict=self.netrestrict)

    @property
    def chain_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def settings(self, kind: type[S]) -> S:
        """The node's settings from this folder, as ``kind`` (the API's own settings class, a
        :class:`NodeSettings`, takes the API's port too): no ``.env``; the folder's values win, and a
        ``PROVLEDGER_*`` of the shell sets only the others (e.g. ``PROVLEDGER_ANCHOR_INTERVAL``)."""
        return kind(  # type: ignore[call-arg]
            _env_file=None, department_id=self.code, chain_url=self.chain_url, manifest_path=self.manifest_path,
            keystore_path=self.directory / "keys" / "service.json", passphrase=None,
            passphrase_file=self.passphrase_file, data_dir=self.directory / "data",
            database_url=f"sqlite:///{self.directory / 'data' / 'node.db'}", confirmations=CONFIRMATIONS,
            api_host="127.0.0.1", api_port=self.api_port,
        )

    def coordinator_sender(self) -> TransactionSender:
        if self.coordinator is None:
            raise FolderError(f"{self.directory} holds no coordinator key (node init --coordinator)")
        from ledger.geth import clique_web3

        account = load_keystore(self.directory / "keys" / "coordinator.json", self.passphrase())
        sender = TransactionSender(clique_web3(self.chain_url), account, confirmations=1, poll_interval=0.1)
        sender.gas_price = GAS_PRICE
        return sender


def read_passphrase(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except OSError as err:
        raise FolderError(f"cannot read the passphrase file {path}: {err}") from err
    if not secret:
        raise FolderError(f"the passphrase file {path} is empty")
    return secret


# ------------------------------------------------------------ the founders' public files

def founding_genesis(facts: Sequence[Facts], *, chain_id: int, period: int = 1,
                     gas_limit: int = DEFAULT_GAS_LIMIT) -> dict[str, Any]:
    """The founders' validators as the Clique signers; funds for their service accounts and the
    coordinator (gas only bounds work per block: none is for sale)."""
    check_founders(facts)
    alloc = {f.service_account: FUNDS for f in facts} | {f.coordinator: FUNDS for f in facts if f.coordinator}
    return clique_genesis(chain_id, [f.validator for f in facts], alloc, period=period, gas_limit=gas_limit)


def check_founders(facts: Sequence[Facts]) -> None:
    if len(facts) < 3:
        raise FolderError("a consortium needs at least 3 founding departments (Clique outlasts one node down)")
    for what in ("code", "validator", "enode"):
        values = [str(getattr(f, what)).lower() for f in facts]
        if len(set(values)) != len(values):
            raise FolderError(f"two facts files give the same {what}")
    if sum(1 for f in facts if f.coordinator) != 1:
        raise FolderError("exactly one founder must hold the coordinator key (node init --coordinator)")


def genesis_signers(genesis: dict[str, Any]) -> list[str]:
    """The Clique signers a genesis names, sorted as Clique sorts them."""
    extra = bytes.fromhex(genesis["extraData"].removeprefix("0x"))[32:-65]
    return sorted((Web3.to_checksum_address(extra[i:i + 20]) for i in range(0, len(extra), 20)), key=str.lower)


def read_peers(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip().startswith("enode://")]
    except OSError as err:
        raise FolderError(f"cannot read the peers file {path}: {err}") from err
