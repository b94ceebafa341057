"""One department's geth on 127.0.0.1 and its Clique signer: data folder, ports, static peers,
start and stop, and the kick that makes it seal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from ledger.chain import free_port
from ledger.clique_signer import ask as ask_signer
from ledger.compile import PROJECT_ROOT
from ledger.errors import ChainReadFailed, ChainStartFailed, ChainUnavailable
from ledger.geth.build import clean_env
from ledger.geth.keys import clique_ipc, clique_web3, validator_keystore
from ledger.rpc import RpcBatcher
from ledger.tx import load_keystore
from ledger.waiting import WaitTimedOut, wait_for

LOCALHOST_NET = "127.0.0.1/32"
HTTP_APIS = "eth,net,web3"
"""All that HTTP serves: reading the chain and sending signed transactions. Votes, peers and
sealing (``clique``, ``admin``, ``miner``) go through the IPC socket only."""
MIN_TIP = 1
"""The least tip a signer takes (in wei): geth 1.13 raises ``--miner.gasprice 0`` to 1 gwei."""


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
        verbosity: int = 3, netrestrict: str = LOCALHOST_NET,
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
        self.netrestrict = netrestrict
        """The networks peers may connect from: the consortium's machines (one machine: 127.0.0.1)."""
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
                             capture_output=True, text=True, timeout=60, env=clean_env())
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
            "--port", str(self.ports.p2p), "--nodiscover", "--netrestrict", self.netrestrict,
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
                                                 stderr=log_file, process_group=self._signer.pid, env=clean_env())
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
        def listening() -> bool | None:
            assert self._signer is not None
            if self._signer.poll() is not None:
                raise ChainStartFailed("geth", f"the signer of {self.datadir} exited with {self._signer.returncode}: "
                                               f"{_tail(self.datadir / 'signer.log')}")
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(self.signer_path))
                    return True
                except OSError:
                    return None

        wait_for(listening, timeout=timeout, what=f"the signer of {self.datadir}",
                 timed_out=lambda: ChainStartFailed("geth", f"the signer of {self.datadir} did not open {self.signer_path}"))

    def _wait_for_http(self, timeout: float) -> None:
        def answers() -> bool | None:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ChainStartFailed("geth", f"{self.datadir.name} exited with {self._process.returncode}: "
                                               f"{self.log_tail()}")
            try:
                return True if rpc.call([("eth_blockNumber", [])])[0].error is None else None
            except (ChainUnavailable, ChainReadFailed):
                return None

        with RpcBatcher(self.url, timeout=2) as rpc:
            wait_for(answers, timeout=timeout, what=f"geth on {self.url}", interval=0.2,
                     timed_out=lambda: ChainStartFailed("geth", f"no answer on {self.url} after {timeout:.0f} s: "
                                                                f"{self.log_tail()}"))

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
        try:
            wait_for(lambda: None if self.control("eth_mining") else True, timeout=timeout, what="the miner stopped")
        except WaitTimedOut:
            pass  # started again below all the same
        self.control("miner_start")

    def stop_sealing(self) -> None:
        """Hold the signer: geth's miner goes on, but seals nothing more (a block signed just
        before may still be published within the out-of-turn delay)."""
        ask_signer(self.signer_path, "signer_hold")


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
    try:
        wait_for(lambda: None if Path(f"/proc/{pid}").exists() else True, timeout=timeout, what=f"process {pid} gone",
                 interval=0.1)
    except WaitTimedOut:
        pass  # killed with its group below
    try:
        os.killpg(group, signal.SIGKILL if Path(f"/proc/{pid}").exists() else signal.SIGTERM)
    except ProcessLookupError:
        pass
    return True

