"""A real anvil started and stopped by the library, and connections to it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ledger.chain import LocalChain, connect, find_anvil
from ledger.compile import PROJECT_ROOT
from ledger.errors import ChainUnavailable


def test_local_chain_runs_inside_the_with_block_only() -> None:
    chain = LocalChain(find_anvil(PROJECT_ROOT), chain_id=4242)
    with chain:
        w3 = chain.web3()
        assert w3.eth.chain_id == 4242
        assert w3.eth.get_balance(w3.eth.accounts[0]) > 0
        url = chain.url
    with pytest.raises(ChainUnavailable):
        connect(url, timeout=1)


def test_block_time_mines_blocks_without_transactions() -> None:
    with LocalChain(find_anvil(PROJECT_ROOT), block_time=1) as chain:
        w3 = chain.web3()
        first = w3.eth.block_number
        deadline = time.monotonic() + 10
        while w3.eth.block_number < first + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w3.eth.block_number >= first + 2


def test_connect_leaves_out_poa_middleware_on_a_non_clique_chain(chain: LocalChain) -> None:
    w3 = connect(chain.url)
    assert "ExtraDataToPOAMiddleware" not in str(w3.middleware_onion.middleware)


def test_command_line_prints_the_url_and_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger.chain", "--root", str(PROJECT_ROOT)],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert connect(url).eth.block_number >= 0
    finally:
        process.terminate()
        process.wait(timeout=10)
    with pytest.raises(ChainUnavailable):
        connect(url, timeout=1)
