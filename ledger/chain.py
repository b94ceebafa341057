"""Chains to talk to: a local anvil started on demand, or any EVM JSON-RPC endpoint.

``LocalChain`` starts a real anvil node (the binary npm installs under ``node_modules``) on a
free 127.0.0.1 port and stops it when the ``with`` block ends. ``connect`` opens a web3
connection to any URL and adds the proof-of-authority middleware where the chain's blocks
carry Clique signatures in their extra data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from eth_account import Account
from web3 import HTTPProvider, IPCProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint

from ledger.errors import ChainStartFailed, ChainUnavailable
from ledger.waiting import wait_for

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's well-known development mnemonic: its accounts are funded on every local chain."""

_ANVIL_PACKAGES = ("anvil-linux-amd64", "anvil-linux-arm64", "anvil-darwin-arm64", "anvil-darwin-amd64")
_CLIQUE_EXTRA_DATA = 32 + 65


def find_anvil(project_root: Path) -> Path:
    """The anvil binary npm installed under ``project_root``, else one on PATH."""
    for package in _ANVIL_PACKAGES:
        candidate = project_root / "node_modules" / "@foundry-rs" / package / "bin" / "anvil"
        if candidate.is_file():
            return candidate
    on_path = shutil.which("anvil")
    if on_path is None:
        raise ChainStartFailed("anvil", "not under node_modules/@foundry-rs and not on PATH (run `npm ci`)")
    return Path(on_path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ChainProvider(HTTPProvider):
    """web3's HTTP provider, raising :class:`ChainUnavailable` when the endpoint does not answer
    over HTTP (web3 lets its HTTP library's own errors through), so that callers tell a chain
    failure by ``ledger.errors`` alone."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        super().__init__(url, request_kwargs={"timeout": timeout})
        self.url = url

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        try:
            return super()._make_request(method, request_data)
        except ChainUnavailable:
            raise
        except OSError as err:  # the HTTP library's errors: refused, reset, timed out, HTTP status
            raise ChainUnavailable(self.url) from err


def endpoint(w3: Web3) -> str:
    """Where ``w3`` talks to, for a :class:`ChainUnavailable`: its HTTP URL or IPC socket."""
    provider = w3.provider
    if isinstance(provider, HTTPProvider):
        return str(provider.endpoint_uri)
    if isinstance(provider, IPCProvider):
        return str(getattr(provider, "ipc_path", "an IPC socket"))  # web3 leaves it untyped
    return type(provider).__name__


def connect(url: str, *, poa: bool | None = None, timeout: float = 10.0) -> Web3:
    """A web3 connection to ``url``; ``poa=None`` detects Clique from the latest block."""
    w3 = Web3(ChainProvider(url, timeout=timeout))
    # Read raw: web3's own block formatting refuses Clique's long extra data.
    try:
        reply = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]
        extra = reply["result"]["extraData"]
    except Exception as err:
        raise ChainUnavailable(url) from err
    if poa is None:
        poa = len(bytes.fromhex(extra.removeprefix("0x"))) >= _CLIQUE_EXTRA_DATA
    if poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class LocalChain:
    """A real anvil node on 127.0.0.1 for as long as the ``with`` block runs.

    ``block_time=None`` mines each transaction at once; a number mines a block every so many
    seconds. The first ``accounts`` keys of :data:`ANVIL_MNEMONIC` are funded. With ``state``,
    anvil starts from the chain saved in that file, if there is one, and saves it there when
    stopped: a chain stopped and started again on its port keeps its blocks and contracts.
    """

    def __init__(
        self,
        anvil: Path,
        *,
        block_time: float | None = None,
        chain_id: int = 31337,
        accounts: int = 10,
        port: int | None = None,
        startup_timeout: float = 20.0,
        keep_states: int = 256,
        state: Path | None = None,
    ) -> None:
        self.anvil = anvil
        self.block_time = block_time
        self.chain_id = chain_id
        self.account_count = accounts
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.keep_states = keep_states
        self.state = state
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """anvil's process id while it runs (what it costs the machine is read by it)."""
        return self._process.pid if self._process is not None else None

    @property
    def private_keys(self) -> list[str]:
        Account.enable_unaudited_hdwallet_features()
        return [
            Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.to_0x_hex()
            for i in range(self.account_count)
        ]

    def start(self) -> LocalChain:
        args = [
            str(self.anvil), "--host", "127.0.0.1", "--port", str(self.port),
            "--chain-id", str(self.chain_id), "--accounts", str(self.account_count),
            "--mnemonic", ANVIL_MNEMONIC, "--hardfork", "paris", "--gas-price", "1", "--base-fee", "0",
            "--disable-code-size-limit",
            # Full state history for every block grows anvil by gigabytes over thousands of
            # transactions; recent states are all that calls and revert replays need.
            "--prune-history", str(self.keep_states),
        ]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        if self.state is not None:
            args += ["--state", str(self.state)]
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        process = self._process

        def listening() -> LocalChain | None:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise ChainStartFailed("anvil", f"exited with {process.returncode}: {stderr.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                return None

        try:
            return wait_for(listening, timeout=self.startup_timeout, what=f"anvil on {self.url}",
                            timed_out=lambda: ChainStartFailed("anvil", f"no answer on {self.url} after "
                                                                        f"{self.startup_timeout} s"))
        except ChainStartFailed:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def web3(self) -> Web3:
        return connect(self.url, poa=False)

    def __enter__(self) -> LocalChain:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.chain", description="Run a local anvil chain.")
    parser.add_argument("--block-time", type=float, default=None, help="seconds per block (default: mine at once)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--chain-id", type=int, default=31337)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root holding node_modules")
    args = parser.parse_args(argv)
    # SIGTERM must unwind the with block, or the anvil in its own session outlives us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    chain = LocalChain(find_anvil(args.root), block_time=args.block_time, chain_id=args.chain_id, port=args.port)
    with chain:
        print(chain.url, flush=True)
        try:
            while chain._process is not None and chain._process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
