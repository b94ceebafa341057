"""geth v1.13.15 for a Clique proof-of-authority network whose signers are the departments.

1.13.15 is the last geth release that still seals Clique blocks. :func:`ensure_geth` builds it
once with the Go toolchain (from the Go module proxy) and caches the binary; :func:`clique_genesis`
writes a pre-merge genesis for the contracts' ``paris`` EVM; :class:`GethNode` runs one
department's geth on 127.0.0.1, peered by a static list (``ledger.sealing`` starts a
consortium's signers in an order that cannot deadlock). geth holds no key: it seals through
``ledger.clique_signer``, which signs block headers and nothing else, and it serves only
``eth,net,web3`` over HTTP; the ``admin``, ``clique``, ``miner`` and ``debug`` calls go through
its IPC socket (0600, in a 0700 folder). Keys stay in encrypted keystores: the node key is
decrypted into a file only while geth starts.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_keys.datatypes import PrivateKey
from web3 import IPCProvider, Web3
from web3._utils.threads import Timeout
from web3.exceptions import Web3Exception
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint

from ledger.chain import ChainProvider, free_port
from ledger.clique_signer import SignerRefused
from ledger.clique_signer import ask as ask_signer
from ledger.compile import PROJECT_ROOT
from ledger.errors import ChainStartFailed, ChainUnavailable
from ledger.rpc import RpcBatcher
from ledger.tx import load_keystore, write_keystore

GETH_VERSION = "1.13.15"
GETH_PACKAGE = "github.com/ethereum/go-ethereum/cmd/geth"
GO_TOOLCHAIN = "go1.22.12"
"""geth 1.13 does not link with Go 1.23 or later; the go command fetches this one by itself."""
DEFAULT_GETH_DIR = PROJECT_ROOT / "build" / "geth"
LOCALHOST_NET = "127.0.0.1/32"
HTTP_APIS = "eth,net,web3"
"""All that HTTP serves: reading the chain and sending signed transactions. Votes, peers and
sealing (``clique``, ``admin``, ``miner``) go through the IPC socket only."""
IPC_ERRORS = (OSError, ValueError, Web3Exception, Timeout, SignerRefused)
"""What a call over a node's IPC socket or its signer's raises when either is down or refuses
(web3's IPC provider times out with its own ``Timeout``, no ``Web3Exception``)."""
BASE_FEE = 7
MIN_TIP = 1
"""The least tip a signer takes (in wei): geth 1.13 raises ``--miner.gasprice 0`` to 1 gwei."""

# ---------------------------------------------------------------- the binary


def geth_version(binary: Path) -> str | None:
    """The version ``binary`` reports (``"1.13.15"``), or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, env=_clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^Version:\s*(\d+\.\d+\.\d+)", out.stdout, re.MULTILINE)
    return found.group(1) if out.returncode == 0 and found else None


def ensure_geth(cache_dir: Path = DEFAULT_GETH_DIR, *, go: str | None = None, timeout: float = 1800) -> Path:
    """geth 1.13.15 at ``cache_dir/bin/geth``: the cached binary, else built with ``go install``.

    The build uses the Go 1.22 toolchain the module proxy serves; if that fails, the local Go
    with the linker's linkname check off. A lock keeps concurrent callers to one build.
    """
    binary = cache_dir / "bin" / "geth"
    if geth_version(binary) == GETH_VERSION:
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if geth_version(binary) == GETH_VERSION:
            return binary
        go = go or shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
        if go is None:
            raise ChainStartFailed("geth", f"no {binary} and no Go toolchain on PATH to build it")
        failures = []
        for toolchain, flags in ((GO_TOOLCHAIN, []), ("local", ["-ldflags=-checklinkname=0"])):
            env = _clean_env() | {"GOTOOLCHAIN": toolchain, "GOBIN": str(binary.parent.resolve())}
            command = [go, "install", *flags, f"{GETH_PACKAGE}@v{GETH_VERSION}"]
            try:
                out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                failures.append(f"GOTOOLCHAIN={toolchain}: timed out after {timeout:.0f} s")
                continue
            if out.returncode == 0 and geth_version(binary) == GETH_VERSION:
                return binary
            failures.append(f"GOTOOLCHAIN={toolchain}: {out.stderr.strip()[-2000:]}")
        raise ChainStartFailed("geth", "go install failed:\n" + "\n".join(failures))


def _clean_env() -> dict[str, str]:
    """The environment minus GETH_* variables, which geth would read as flags."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GETH_")}


# ---------------------------------------------------------------- keys and genesis


def create_validator(keystore_dir: Path, passphrase: str, *, scrypt_n: int | None = None) -> str:
    """A new validator key, encrypted into the node's keystore folder; returns its address."""
    account = Account.create()
    write_keystore(account, validator_keystore(keystore_dir, account.address), passphrase, scrypt_n=scrypt_n)
    return str(account.address)


def validator_keystore(keystore_dir: Path, validator: str) -> Path:
    return keystore_dir / f"validator-{validator.lower()}.json"


def create_node_key(path: Path, passphrase: str, *, scrypt_n: int | None = None) -> str:
    """A new p2p node key, encrypted at ``path``; returns the node id (public key, hex)."""
    account = Account.create()
    write_keystore(account, path, passphrase, scrypt_n=scrypt_n)
    return node_id_of(bytes(account.key))


def node_id_of(private_key: bytes) -> str:
    return str(PrivateKey(private_key).public_key.to_bytes().hex())


def clique_genesis(
    chain_id: int, signers: Sequence[str], alloc: Mapping[str, int], *, period: int = 1, epoch: int = 30000,
    gas_limit: int = 30_000_000,
) -> dict[str, Any]:
    """A Clique genesis that stays before the merge: every fork up to gray glacier at block 0,
    no terminal total difficulty, no Shanghai or Cancun (the contracts target ``paris``)."""
    if period < 1:
        raise ValueError("a Clique period below 1 s seals no empty blocks and stalls the tests' clocks")
    forks = ("homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg", "istanbul",
             "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier")
    signer_bytes = "".join(Web3.to_checksum_address(s)[2:].lower() for s in sorted(signers, key=str.lower))
    return {
        "config": {"chainId": chain_id, **{f"{fork}Block": 0 for fork in forks},
                   "clique": {"period": period, "epoch": epoch}},
        "difficulty": "0x1",
        "gasLimit": hex(gas_limit),
        # Where EIP-1559 stops lowering the base fee: gas costs nothing on a consortium chain.
        "baseFeePerGas": hex(BASE_FEE),
        "extraData": "0x" + "00" * 32 + signer_bytes + "00" * 65,
        "alloc": {Web3.to_checksum_address(a)[2:].lower(): {"balance": hex(v)} for a, v in alloc.items()},
    }


def clique_web3(url: str, timeout: float = 10.0) -> Web3:
    """A web3 connection that reads Clique blocks (97-byte extra data), made without asking the
    node anything: unlike ``ledger.chain.connect`` it works while that node is down."""
    w3 = Web3(ChainProvider(url, timeout=timeout))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


# ---------------------------------------------------------------- one node


@dataclass(frozen=True)
class GethPorts:
    p2p: int
    http: int
    authrpc: int

    @classmethod
    def free(cls) -> GethPorts:
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        return cls(*sorted(ports))


class GethNode:
    """One department's geth and its Clique signer: data folder, ports, peers and validator."""

    def __init__(
        self, binary: Path, datadir: Path, *, network_id: int, validator: str, password_file: Path,
        node_keystore: Path, node_id: str, ports: GethPorts, gas_limit: int = 30_000_000, cache_mb: int = 128,
        verbosity: int = 3,
    ) -> None:
        self.binary = binary
        self.datadir = datadir
        self.network_id = network_id
        self.validator = Web3.to_checksum_address(validator)
        self.password_file = password_file
        self.node_keystore = node_keystore
        self.node_id = node_id
        self.ports = ports
        self.gas_limit = gas_limit
        self.cache_mb = cache_mb
        self.verbosity = verbosity
        self._process: subprocess.Popen[bytes] | None = None
        self._signer: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def enode(self) -> str:
        return f"enode://{self.node_id}@127.0.0.1:{self.ports.p2p}"

    @property
    def log_path(self) -> Path:
        return self.datadir / "geth.log"

    @property
    def config_path(self) -> Path:
        return self.datadir / "config.toml"

    @property
    def ipc_path(self) -> Path:
        """geth's IPC socket: every API, for this machine's user that runs geth only."""
        return self.datadir / "geth.ipc"

    @property
    def signer_path(self) -> Path:
        return self.datadir / "signer.ipc"

    @property
    def validator_keystore(self) -> Path:
        return validator_keystore(self.datadir / "keystore", self.validator)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    @property
    def signer_pid(self) -> int | None:
        return self._signer.pid if self._signer is not None and self._signer.poll() is None else None

    def init(self, genesis: Path) -> None:
        """Write the genesis block into the data folder, once."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        # The IPC sockets live here: a folder only geth's user enters.
        self.datadir.chmod(0o700)
        if (self.datadir / "geth" / "chaindata").is_dir():
            return
        out = subprocess.run([str(self.binary), "init", "--datadir", str(self.datadir), str(genesis)],
                             capture_output=True, text=True, timeout=60, env=_clean_env())
        if out.returncode != 0:
            raise ChainStartFailed("geth", f"init of {self.datadir} failed: {out.stderr.strip()[-2000:]}")

    def set_peers(self, enodes: Sequence[str]) -> None:
        """Peers for the next start (this geth reads them from its TOML config, not static-nodes.json)."""
        listed = ", ".join(f'"{e}"' for e in enodes if e != self.enode)
        self.config_path.write_text(f"[Node.P2P]\nStaticNodes = [{listed}]\nTrustedNodes = [{listed}]\n")

    def args(self, node_key_file: Path) -> list[str]:
        """No ``--unlock``, no ``--allow-insecure-unlock``: geth seals through its signer, which
        holds every seal until :meth:`seal`, and HTTP serves only ``HTTP_APIS``. The miner runs
        from the start all the same: until it first starts, geth drops every block its peers
        propagate ("Syncing, discarded propagated block")."""
        return [
            str(self.binary), "--datadir", str(self.datadir), "--config", str(self.config_path),
            "--networkid", str(self.network_id), "--syncmode", "full", "--cache", str(self.cache_mb),
            "--port", str(self.ports.p2p), "--nodiscover", "--netrestrict", LOCALHOST_NET,
            "--nodekey", str(node_key_file),
            "--http", "--http.addr", "127.0.0.1", "--http.port", str(self.ports.http), "--http.api", HTTP_APIS,
            "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(self.ports.authrpc), "--ipcpath", str(self.ipc_path),
            "--signer", str(self.signer_path), "--mine", "--miner.etherbase", self.validator,
            "--miner.gasprice", str(MIN_TIP), "--miner.gaslimit", str(self.gas_limit),
            "--verbosity", str(self.verbosity),
        ]

    def signer_args(self) -> list[str]:
        return [sys.executable, "-m", "ledger.clique_signer", "--keystore", str(self.validator_keystore),
                "--password-file", str(self.password_file), "--socket", str(self.signer_path), "--hold"]

    def start(self, timeout: float = 90.0, *, seal: bool = True) -> GethNode:
        """Start the signer (holding its seals), then geth, and return once geth's HTTP endpoint
        answers; with ``seal``, let the signer seal at once (a consortium starting together lets
        its signers go in order instead: ``ledger.sealing.start_sealing``)."""
        if self.pid is not None:
            return self
        self._stop_signer()
        if not self.config_path.is_file():
            self.set_peers([])
        with open(self.datadir / "signer.log", "ab") as log_file:
            # The signer leads a process group that geth joins: stopping the group stops both.
            self._signer = subprocess.Popen(self.signer_args(), stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=log_file, process_group=0, cwd=PROJECT_ROOT)
        key_file = self.datadir / "nodekey.tmp"
        try:
            node_key = load_keystore(self.node_keystore, self.password_file.read_text().strip())
            key_file.touch(mode=0o600)
            key_file.write_text(bytes(node_key.key).hex())
            self._wait_for_signer(timeout)
            with open(self.log_path, "ab") as log_file:
                self._process = subprocess.Popen(self.args(key_file), stdin=subprocess.DEVNULL, stdout=log_file,
                                                 stderr=log_file, process_group=self._signer.pid, env=_clean_env())
            self._wait_for_http(timeout)
            # geth has read the key by now: its HTTP endpoint opens after the p2p server starts.
            key_file.unlink(missing_ok=True)
            if seal:
                self.seal()
        except BaseException:
            key_file.unlink(missing_ok=True)
            self.stop()
            raise
        return self

    def _wait_for_signer(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._signer is not None
            if self._signer.poll() is not None:
                raise ChainStartFailed("geth", f"the signer of {self.datadir} exited with {self._signer.returncode}: "
                                               f"{_tail(self.datadir / 'signer.log')}")
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(self.signer_path))
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise ChainStartFailed("geth", f"the signer of {self.datadir} did not open {self.signer_path}")

    def _wait_for_http(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        rpc = RpcBatcher(self.url, timeout=2)
        try:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise ChainStartFailed("geth", f"{self.datadir.name} exited with {self._process.returncode}: "
                                                   f"{self.log_tail()}")
                try:
                    if rpc.call([("eth_blockNumber", [])])[0].error is None:
                        return
                except ChainUnavailable:
                    pass
                time.sleep(0.2)
        finally:
            rpc.close()
        raise ChainStartFailed("geth", f"no answer on {self.url} after {timeout:.0f} s: {self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop geth cleanly (it writes its state on SIGTERM), killing it if it hangs, then its signer."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._stop_signer()

    def _stop_signer(self) -> None:
        signer, self._signer = self._signer, None
        if signer is not None and signer.poll() is None:
            signer.terminate()
            try:
                signer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                signer.kill()
                signer.wait()
        self.signer_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        return _tail(self.log_path, lines)

    def web3(self, timeout: float = 10.0) -> Web3:
        """The HTTP connection: ``eth``, ``net`` and ``web3`` only."""
        return clique_web3(self.url, timeout)

    def ipc(self, timeout: float = 10.0) -> Web3:
        """The IPC connection: every API, ``admin``, ``clique``, ``miner`` and ``debug`` included."""
        return clique_ipc(self.ipc_path, timeout)

    def control(self, method: str, params: Sequence[Any] = (), timeout: float = 10.0) -> Any:
        """One call over IPC, on a connection of its own (geth may have restarted since the last)."""
        return self.ipc(timeout).manager.request_blocking(RPCEndpoint(method), list(params))

    def seal(self, timeout: float = 10.0) -> None:
        """Let the signer seal, and have geth try at once. Its miner tried while the signer held
        and tries again only on a new block or transaction, and never the same work twice (same
        seal hash), so the kick changes the header's vanity (``miner_setExtra``) and restarts
        the miner (``miner_stop``, ``miner_start``)."""
        ask_signer(self.signer_path, "signer_seal")
        self.control("miner_setExtra", [f"provledger {time.time():.3f}"])
        self.control("miner_stop")
        deadline = time.monotonic() + timeout
        while self.control("eth_mining") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.control("miner_start")

    def stop_sealing(self) -> None:
        """Hold the signer: geth's miner goes on, but seals nothing more (a block signed just
        before may still be published within the out-of-turn delay)."""
        ask_signer(self.signer_path, "signer_hold")


def clique_ipc(path: Path, timeout: float = 10.0) -> Web3:
    """A web3 connection over geth's IPC socket that reads Clique blocks."""
    w3 = Web3(IPCProvider(str(path), timeout=max(1, round(timeout))))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_pid(pid: int, datadir: Path, timeout: float = 30.0) -> bool:
    """Stop a geth another process started, and its signer, if ``pid`` is still that geth;
    True if it was."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        group = os.getpgid(pid)
    except OSError:
        return False
    if str(datadir).encode() not in cmdline:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    try:
        os.killpg(group, signal.SIGKILL if Path(f"/proc/{pid}").exists() else signal.SIGTERM)
    except ProcessLookupError:
        pass
    return True


# ---------------------------------------------------------------- the network


@dataclass(frozen=True)
class NodeStatus:
    """What one node reports; ``up`` is False (and the rest empty) when it does not answer."""

    url: str
    up: bool
    peers: int = 0
    head: int = -1
    head_hash: str = ""
    signers: tuple[str, ...] = ()


def node_status(url: str, timeout: float = 5.0, *, ipc_path: Path | None = None) -> NodeStatus:
    """Peers and head over HTTP; the Clique signers too when ``ipc_path`` names the node's IPC
    socket (HTTP serves no ``clique`` calls)."""
    rpc = RpcBatcher(url, timeout=timeout)
    try:
        peers, head = rpc.call([("net_peerCount", []), ("eth_getBlockByNumber", ["latest", False])])
    except ChainUnavailable:
        return NodeStatus(url, up=False)
    finally:
        rpc.close()
    if peers.error or head.error or not head.result:
        return NodeStatus(url, up=False)
    signers: list[str] = []
    if ipc_path is not None:
        try:
            signers = clique_ipc(ipc_path, timeout).manager.request_blocking(RPCEndpoint("clique_getSigners"), [])
        except IPC_ERRORS:
            return NodeStatus(url, up=False)
    return NodeStatus(url, True, int(peers.result, 16), int(head.result["number"], 16), head.result["hash"],
                      tuple(Web3.to_checksum_address(s) for s in signers))


def block_hash(url: str, number: int) -> str | None:
    rpc = RpcBatcher(url, timeout=5)
    try:
        reply = rpc.call([("eth_getBlockByNumber", [hex(number), False])])[0]
    finally:
        rpc.close()
    return str(reply.result["hash"]) if reply.result else None


def wait_until_peered(urls: Sequence[str], timeout: float = 120.0, blocks: int = 0) -> list[NodeStatus]:
    """Wait until every node has all the others as peers and its head moved ``blocks`` on."""
    first: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while True:
        statuses = [node_status(url) for url in urls]
        for s in statuses:
            if s.up:
                first.setdefault(s.url, s.head)
        if all(s.up and s.peers >= len(urls) - 1 and s.head >= first[s.url] + blocks for s in statuses):
            return statuses
        if time.monotonic() > deadline:
            raise ChainStartFailed("geth", "network not ready: " + "; ".join(
                f"{s.url} up={s.up} peers={s.peers} head={s.head}" for s in statuses))
        time.sleep(0.2)


def wait_in_sync(urls: Sequence[str], timeout: float = 120.0, depth: int = 2, max_lag: int = 2) -> tuple[int, str]:
    """Wait until every node is within ``max_lag`` blocks of the highest head and all hold the
    same block ``depth`` below the lowest head (Clique's tip can still reorg); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [node_status(url) for url in urls]
        heads = [s.head for s in statuses if s.up]
        if len(heads) == len(urls) and max(heads) - min(heads) <= max_lag and min(heads) >= depth:
            number = min(heads) - depth
            hashes = {block_hash(url, number) for url in urls}
            if len(hashes) == 1 and None not in hashes:
                return number, str(hashes.pop())
        if time.monotonic() > deadline:
            raise ChainStartFailed("geth", "nodes not in sync: " + "; ".join(
                f"{s.url} up={s.up} head={s.head}" for s in statuses))
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.geth", description=f"Build or find geth {GETH_VERSION}.")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_GETH_DIR, help=f"default {DEFAULT_GETH_DIR}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        binary = ensure_geth(args.cache_dir)
    except ChainStartFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"geth {geth_version(binary)} at {binary} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
