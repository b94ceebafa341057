"""The HTTP client of one node (:class:`Api`), the CLI's errors and its progress display."""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from tqdm import tqdm
from web3 import Web3

from api.auth.siwe import siwe_message
from ledger.compile import load_artifact
from ledger.waiting import wait_for

T = TypeVar("T")
HASH32 = re.compile(r"0x[0-9a-fA-F]{64}")
RELAY_GAS = 800_000
"""Gas for a consumer's relayed call: well above requestAccess and acknowledgeStatement."""


# ---------------------------------------------------------------- errors and progress


class CliError(Exception):
    """A failure told in one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    """Bad usage or bad input: exit status 2."""

    def __init__(self, message: str, prog: str = "provledger") -> None:
        super().__init__(message, 2)
        self.prog = prog


class Refused(CliError):
    """The node answered with an error body; its 422 (bad input) exits 2, the rest 1."""

    def __init__(self, status_code: int, code: str, message: str, detail: dict[str, Any]) -> None:
        reason = detail.get("reason")  # e.g. why the ledger is paused
        said = f" ({reason})" if isinstance(reason, str) and reason and reason not in message else ""
        super().__init__(f"{status_code} {code}: {message}{said}", 2 if status_code == 422 else 1)
        self.status_code = status_code
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Progress:
    """Progress bars on stderr; ``enabled=None`` shows them only when stderr is a terminal."""

    enabled: bool | None = None

    def bar(self, desc: str, total: float | None = None, unit: str = "B") -> Any:
        disable = None if self.enabled is None else not self.enabled
        return tqdm(desc=desc, total=total, unit=unit, unit_scale=unit == "B", unit_divisor=1024, leave=False,
                    file=sys.stderr, disable=disable, dynamic_ncols=True)

    def wait(self, desc: str, poll: Callable[[], T | None], *, timeout: float = 120.0, interval: float = 0.2) -> T:
        """Call ``poll`` until it gives something, showing the time waited so far."""
        disable = None if self.enabled is None else not self.enabled
        with tqdm(desc=desc, bar_format="{desc}: {elapsed}", leave=False, file=sys.stderr, disable=disable) as bar:
            return wait_for(poll, timeout=timeout, what=desc, interval=interval, tick=bar.update,
                            timed_out=lambda: CliError(f"timed out after {timeout:g} s waiting for {desc}"))


# ---------------------------------------------------------------- one node's API


class Api:
    """An HTTP client of one node, signed in once as staff or with Ethereum."""

    def __init__(self, url: str, progress: Progress | None = None, *, timeout: float = 90.0) -> None:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise UsageError(f"--api {url!r} is not an http(s) URL of a node")
        self.url = url.rstrip("/")
        self.progress = progress or Progress()
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.token: str | None = None
        self.roles: list[str] = []

    def __enter__(self) -> Api:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            error = dict(response.json()["error"])
            code, message = str(error.pop("code")), str(error.pop("message"))
        except (ValueError, KeyError, TypeError):
            code, message, error = "http_error", response.reason_phrase, {}
        raise Refused(response.status_code, code, message, error)

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """The JSON answer of one request; an error answer raises :class:`Refused`."""
        try:
            response = self.http.request(method, path, headers=self._headers(headers), **kwargs)
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        self._raise_for(response)
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        """The node's health: answered with 503 when it cannot record uses, with the same body."""
        try:
            response = self.http.get("/health")
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        if response.status_code != 503:
            self._raise_for(response)
        body: dict[str, Any] = response.json()
        return body

    def download(self, path: str, dst: BinaryIO, *, total: int | None, desc: str) -> str:
        """Stream ``path`` into ``dst`` with a progress bar; the sha256 of the bytes, 0x hex."""
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", path, headers=self._headers()) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for(response)
                with self.progress.bar(desc, total) as bar:
                    for chunk in response.iter_bytes(1 << 20):
                        digest.update(chunk)
                        dst.write(chunk)
                        bar.update(len(chunk))
        except httpx.HTTPError as err:
            raise CliError(f"cannot reach {self.url}: {err}") from err
        return "0x" + digest.hexdigest()

    def department_names(self) -> dict[str, str]:
        """The consortium's departments, code to name on chain (民政局)."""
        return {d["code"]: d["name"] for d in self.call("GET", "/departments")}

    # ------------------------------------------------------------ signing in

    def sign_in_staff(self, username: str, password: str) -> dict[str, Any]:
        body: dict[str, Any] = self.call("POST", "/auth/staff", json={"username": username, "password": password})
        self.token, self.roles = body["token"], body["roles"]
        return body

    def sign_in_siwe(self, account: LocalAccount) -> dict[str, Any]:
        """Sign-In with Ethereum: a fresh nonce, an EIP-4361 message for this node signed here."""
        chain_id = int(self.health()["chain_id"])
        nonce = str(self.call("GET", "/auth/nonce")["nonce"])
        now = datetime.now(timezone.utc)
        message = siwe_message(httpx.URL(self.url).netloc.decode(), account.address, self.url, chain_id, nonce, now,
                               now + timedelta(minutes=10))
        signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
        body: dict[str, Any] = self.call("POST", "/auth/siwe", json={"message": message, "signature": signature})
        self.token, self.roles = body["token"], body["roles"]
        return body

    # ------------------------------------------------------------ waiting for the chain

    def wait_write(self, write: dict[str, Any], desc: str, timeout: float = 120.0) -> dict[str, Any]:
        """Follow a chain write the node accepted until it is confirmed; raise if it failed."""

        def poll() -> dict[str, Any] | None:
            current: dict[str, Any] = self.call("GET", f"/writes/{write['id']}")
            if current["status"] == "failed":
                raise CliError(f"the chain write {current['key']} failed: {current.get('error')}")
            return current if current["status"] == "confirmed" else None

        return self.progress.wait(desc, poll, timeout=timeout)

    def settled(self) -> dict[str, Any] | None:
        """The node's health if it has nothing left to send and has indexed up to the head."""
        health = self.health()
        head, indexed = health["head"], health["indexed"]
        done = health["outbox_open"] == 0 and head is not None and indexed is not None and indexed >= head
        return health if done else None


def signed_call(api: Api, account: LocalAccount, contract: str, function: str, *args: Any) -> dict[str, Any]:
    """Sign ``contract.function(*args)`` with ``account`` here and have the node relay it."""
    params = api.call("GET", "/relay/params", params={"address": account.address})
    try:
        abi = load_artifact(contract).abi
    except FileNotFoundError as err:
        raise CliError(str(err)) from err
    address = Web3.to_checksum_address(params["addresses"][contract])
    call = getattr(Web3().eth.contract(address=address, abi=abi).functions, function)(*args)
    tx = call.build_transaction({"chainId": params["chain_id"], "nonce": params["nonce"],
                                 "gasPrice": params["gas_price"], "gas": RELAY_GAS, "value": 0})
    signed = account.sign_transaction(tx)
    sent: dict[str, Any] = api.call("POST", "/relay", json={"raw_transaction": Web3.to_hex(signed.raw_transaction)})

    def mined() -> dict[str, Any] | None:
        current: dict[str, Any] = api.call("GET", sent["follow"])
        return None if current["status"] == "pending" else current

    done = api.progress.wait(f"{contract}.{function} to be mined", mined)
    if done["status"] != "success":
        raise CliError(f"{contract}.{function} reverted: {done.get('error')}")
    return done
