"""The validator's signer: it seals Clique block headers for its geth and signs nothing else.

geth 1.13 refuses ``--unlock`` while its HTTP endpoint is open unless ``--allow-insecure-unlock``
is given, and an account it unlocked signs whatever ``eth_sendTransaction`` or ``eth_sign`` asks,
over any transport. So geth holds no key: started with ``--signer <socket>``, it asks this
process for every seal through clef's external-signer JSON-RPC (``account_version``,
``account_list``, ``account_signData``) over a Unix socket. The process decrypts the validator
key once, answers only on a socket its own user can open (mode 0600, in the node's 0700 data
folder), and signs only ``application/x-clique-header`` data that decodes as a block header.
Transactions, text and typed data are refused, so no caller of geth, on any transport, can send
or sign as the validator.

Started with ``--hold``, it refuses to seal until its owner sends ``signer_seal`` on the same
socket (``signer_hold`` holds it again): geth can run its miner from the start, which it needs
to accept blocks its peers propagate, while the operator decides when each signer begins
(``ledger.sealing``).

    python -m ledger.clique_signer --keystore FILE --password-file FILE --socket PATH [--hold]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

import rlp
from eth_keyfile.keyfile import decode_keyfile_json
from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

log = logging.getLogger(__name__)

CLIQUE_MIME = "application/x-clique-header"
VERSION = "6.1.0"
"""The external-signer API version clef 1.13 reports; geth only checks that one is given."""
HEADER_FIELDS = (15, 16)
"""A pre-merge header's fields without its seal: up to ``nonce``, and ``baseFee`` from London."""
EXTRA_VANITY = 32
NOT_FOUND, REFUSED, INVALID = -32601, -32000, -32602


class SignerRefused(Exception):
    """The signer refused a call (``code`` is its JSON-RPC error code)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


class CliqueSigner:
    """Answers the external-signer calls geth makes, for one validator key."""

    def __init__(self, key: PrivateKey, *, sealing: bool = True) -> None:
        self.key = key
        self.address = key.public_key.to_checksum_address()
        self.sealing = threading.Event()
        if sealing:
            self.sealing.set()

    def answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _error(None, INVALID, "a JSON-RPC request is an object")
        try:
            result = self._call(str(request.get("method")), request.get("params") or [])
        except SignerRefused as err:
            return _error(request.get("id"), err.code, str(err))
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}

    def _call(self, method: str, params: list[Any]) -> Any:
        if method == "account_version":
            return VERSION
        if method == "account_list":
            return [self.address]
        if method == "account_signData":
            return self._sign_header(params)
        if method == "signer_seal":
            self.sealing.set()
            log.info("sealing")
            return True
        if method == "signer_hold":
            self.sealing.clear()
            log.info("held")
            return True
        if method.startswith("account_"):
            log.warning("refused %s: this signer seals Clique headers only", method)
            raise SignerRefused(REFUSED, f"{method} refused: the validator {self.address} signs Clique headers only")
        raise SignerRefused(NOT_FOUND, f"the method {method} does not exist/is not available")

    def _sign_header(self, params: list[Any]) -> str:
        if len(params) != 3:
            raise SignerRefused(INVALID, "account_signData takes a content type, an address and the data")
        mime, address, data = params
        if mime != CLIQUE_MIME:
            log.warning("refused to sign %r data", mime)
            raise SignerRefused(REFUSED, f"{mime} refused: the validator {self.address} signs Clique headers only")
        if str(address).lower() != self.address.lower():
            raise SignerRefused(REFUSED, f"{address} is not this signer's validator")
        try:
            raw = bytes.fromhex(str(data).removeprefix("0x"))
            header = rlp.decode(raw)
        except (ValueError, rlp.DecodingError) as err:
            raise SignerRefused(INVALID, "the data is no RLP block header") from err
        if not (isinstance(header, list) and len(header) in HEADER_FIELDS
                and all(isinstance(f, bytes) for f in header) and len(header[12]) >= EXTRA_VANITY):
            raise SignerRefused(INVALID, "the data is no Clique block header")
        if not self.sealing.is_set():
            raise SignerRefused(REFUSED, f"sealing held: {self.address} seals once its owner sends signer_seal")
        # Clique wants the recovery id as 0 or 1, which is what eth_keys gives.
        return "0x" + self.key.sign_msg_hash(keccak(raw)).to_bytes().hex()


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class _Handler(socketserver.StreamRequestHandler):
    """geth's IPC client writes one JSON value per line, a request or a batch of them."""

    server: SignerServer

    def handle(self) -> None:
        for line in self.rfile:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                reply: Any = _error(None, -32700, "parse error")
            else:
                signer = self.server.signer
                reply = [signer.answer(r) for r in request] if isinstance(request, list) else signer.answer(request)
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class SignerServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, signer: CliqueSigner) -> None:
        self.signer = signer
        path.unlink(missing_ok=True)
        super().__init__(str(path), _Handler)
        path.chmod(0o600)


def ask(socket_path: Path, method: str, params: list[Any] | None = None, timeout: float = 10.0) -> Any:
    """One call to the signer at ``socket_path`` (its owner's: ``signer_seal``, ``signer_hold``)."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(timeout)
        client.connect(str(socket_path))
        stream = client.makefile("rwb")
        stream.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode() + b"\n")
        stream.flush()
        reply = json.loads(stream.readline())
    if "error" in reply:
        raise SignerRefused(reply["error"]["code"], reply["error"]["message"])
    return reply["result"]


def serve(keystore: Path, password_file: Path, socket_path: Path, *, hold: bool = False) -> None:
    """Decrypt the validator key, then answer on ``socket_path`` until killed; with ``hold``,
    seal nothing until told ``signer_seal``."""
    os.umask(0o077)
    # eth_keyfile rather than ledger.tx's web3-laden imports: the signer starts with every geth.
    key = decode_keyfile_json(json.loads(keystore.read_text()), password_file.read_text().strip().encode())
    signer = CliqueSigner(PrivateKey(key), sealing=not hold)
    with SignerServer(socket_path, signer) as server:
        log.info("sealing Clique headers for %s on %s", signer.address, socket_path)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.clique_signer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keystore", type=Path, required=True, help="the validator's encrypted keystore")
    parser.add_argument("--password-file", type=Path, required=True, help="the file holding its passphrase")
    parser.add_argument("--socket", type=Path, required=True, help="the Unix socket geth's --signer names")
    parser.add_argument("--hold", action="store_true", help="seal nothing until told signer_seal on the socket")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(args.keystore, args.password_file, args.socket, hold=args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
