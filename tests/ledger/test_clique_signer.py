"""The validator's signer seals Clique headers for its geth and refuses everything else: no
transaction, text or typed data is signed as the validator, whoever asks."""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_keys.datatypes import PrivateKey, Signature
from eth_utils.crypto import keccak

from ledger.clique_signer import CLIQUE_MIME, CliqueSigner, SignerServer

KEY = PrivateKey(b"\x07" * 32)
ADDRESS = KEY.public_key.to_checksum_address()


def _header(fields: int = 16, extra: bytes = b"\x00" * 32) -> bytes:
    """A header as geth's ``CliqueRLP`` encodes it: 15 fields (16 from London), no seal."""
    values: list[bytes] = [b"\x11" * 32, b"\x22" * 32, b"\x33" * 20, b"\x44" * 32, b"\x55" * 32, b"\x66" * 32,
                           b"\x00" * 256, b"\x02", b"\x05", b"\x01\xc9\xc3\x80", b"", b"\x65\x00\x00\x00", extra,
                           b"\x00" * 32, b"\x00" * 8, b"\x07"]
    return bytes(rlp.encode((values + [b"\x00"] * fields)[:fields]))


def _ask(signer: CliqueSigner, method: str, *params: Any) -> dict[str, Any]:
    return signer.answer({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})


def test_a_clique_header_is_sealed_by_the_validator_with_a_0_or_1_recovery_id() -> None:
    signer = CliqueSigner(KEY)
    assert _ask(signer, "account_list")["result"] == [ADDRESS]
    for fields in (15, 16):
        raw = _header(fields)
        seal = bytes.fromhex(_ask(signer, "account_signData", CLIQUE_MIME, ADDRESS.lower(), "0x" + raw.hex())
                             ["result"][2:])
        assert len(seal) == 65 and seal[64] in (0, 1)
        assert Signature(seal).recover_public_key_from_msg_hash(keccak(raw)).to_checksum_address() == ADDRESS


@pytest.mark.parametrize(("method", "params"), [
    ("account_signTransaction", [{"from": ADDRESS, "to": ADDRESS, "gas": "0x5208", "nonce": "0x0"}]),
    ("account_signData", ["text/plain", ADDRESS, "0x" + b"approve everything".hex()]),
    ("account_signData", ["data/typed", ADDRESS, "0x00"]),
    ("account_signTypedData", [ADDRESS, {}]),
    ("account_new", []),
])
def test_anything_but_a_clique_header_is_refused(method: str, params: list[Any]) -> None:
    reply = _ask(CliqueSigner(KEY), method, *params)
    assert "result" not in reply and reply["error"]["code"] == -32000
    assert "signs Clique headers only" in reply["error"]["message"]


@pytest.mark.parametrize(("address", "data"), [
    ("0x" + "12" * 20, "0x" + _header().hex()),
    (ADDRESS, "0x" + b"not rlp at all, just bytes long enough".hex()),
    (ADDRESS, "0x" + bytes(rlp.encode([b"\x01"] * 16)).hex()),
    (ADDRESS, "0x" + _header(extra=b"short").hex()),
    (ADDRESS, "0x" + _header(fields=17).hex()),
])
def test_clique_data_that_is_no_header_of_this_validator_is_refused(address: str, data: str) -> None:
    reply = _ask(CliqueSigner(KEY), "account_signData", CLIQUE_MIME, address, data)
    assert "result" not in reply and reply["error"]["code"] in (-32000, -32602)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "signer.ipc"
    server = SignerServer(path, CliqueSigner(KEY))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_socket_is_its_owners_only_and_answers_requests_and_batches_line_by_line(served: Path) -> None:
    assert stat.S_IMODE(served.stat().st_mode) == 0o600
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(served))
        stream = client.makefile("rwb")
        stream.write(b'{"jsonrpc":"2.0","id":7,"method":"account_version","params":[]}\n')
        stream.write(json.dumps([{"jsonrpc": "2.0", "id": 8, "method": "account_list", "params": []},
                                 {"jsonrpc": "2.0", "id": 9, "method": "eth_accounts", "params": []}]).encode() + b"\n")
        stream.flush()
        version, batch = json.loads(stream.readline()), json.loads(stream.readline())
    assert version["id"] == 7 and version["result"]
    assert batch[0] == {"jsonrpc": "2.0", "id": 8, "result": [ADDRESS]} and batch[1]["error"]["code"] == -32601
