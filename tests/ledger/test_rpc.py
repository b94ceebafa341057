"""JSON-RPC batches: one keep-alive client per Ledger, answers in order with an error per item,
and chain failures raised as ``ledger.errors`` only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web3 import Web3

from ledger.chain import ChainProvider, LocalChain, free_port
from ledger.errors import ChainReadFailed, ChainUnavailable
from ledger.rpc import RpcBatcher


def test_a_batch_answers_each_call_in_order_with_an_error_for_the_calls_that_failed(chain: LocalChain) -> None:
    w3 = chain.web3()
    with RpcBatcher(chain.url, timeout=5) as rpc:
        head, genesis, unknown, bad = rpc.call([
            ("eth_blockNumber", []),
            ("eth_getBlockByNumber", ["0x0", False]),
            ("no_such_method", []),
            ("eth_getBalance", ["not an address", "latest"]),
        ])
    assert head.error is None and int(head.result, 16) >= w3.eth.block_number - 1
    assert genesis.error is None and genesis.result["hash"] == w3.eth.get_block(0)["hash"].to_0x_hex()
    assert unknown.result is None and unknown.error is not None and unknown.message
    assert bad.result is None and bad.error is not None and bad.message
    assert rpc.closed


def test_a_dead_url_raises_chain_unavailable_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with RpcBatcher(url, timeout=2) as rpc, pytest.raises(ChainUnavailable) as caught:
        rpc.call([("eth_blockNumber", [])])
    assert caught.value.url == url and caught.value.__cause__ is not None


class _NotJsonRpc(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"<html>a proxy's error page</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def not_json_rpc() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJsonRpc)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_answer_that_is_not_json_rpc_raises_chain_read_failed(not_json_rpc: str) -> None:
    with RpcBatcher(not_json_rpc, timeout=2) as rpc, pytest.raises(ChainReadFailed) as caught:
        rpc.call([("eth_blockNumber", []), ("eth_chainId", [])])
    assert "not JSON" in caught.value.reason


def test_web3_reads_through_the_chain_provider_raise_chain_unavailable_too() -> None:
    w3 = Web3(ChainProvider(f"http://127.0.0.1:{free_port()}", timeout=2))
    with pytest.raises(ChainUnavailable):
        w3.eth.block_number


# The Ledger's own batcher and its sender: in tests/ledger/test_deploy.py, on the suite deployed there.
