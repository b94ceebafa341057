"""A consortium start cannot deadlock: fresh starts in a row each seal past block 5, and a
chain split into one fork per signer (each stuck on the block it sealed alone) is recovered.

`make test` makes 3 starts in a row; `make soak` makes 10 (``PROVLEDGER_SOAK=1``).

The keys are encrypted at geth's ``--lightkdf`` cost: scrypt at the standard cost is 16 of them
per start (10 keys made, 6 read to start geth and its signer), seconds each on 2 busy cores,
and has nothing to do with how sealing starts."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ledger.geth import GethNode, block_hash, node_status
from ledger.sealing import restart_sealing, wait_for_head
from node.consortium import DEPARTMENTS, Consortium, main, up
from tests.consortium.conftest import eventually

pytestmark = pytest.mark.timeout(900)

STARTS = 10 if os.environ.get("PROVLEDGER_SOAK") == "1" else 3


def _on_one_chain(nodes: list[GethNode], number: int) -> bool:
    return len({block_hash(node.url, number) for node in nodes}) == 1


def _stopped(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_fresh_starts_in_a_row_each_seal_past_block_5_on_one_chain(
    geth: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ledger.sealing")
    for attempt in range(STARTS):
        consortium = up(tmp_path / f"s{attempt}", 3, services=False, light_kdf=True)
        nodes = list(consortium.nodes.values())
        pids = [pid for node in nodes for pid in (node.pid, node.signer_pid) if pid is not None]
        try:
            assert len(pids) == 2 * len(nodes)
            statuses = wait_for_head(nodes, 6, timeout=60)
            assert all(s.head > 5 and s.peers == len(nodes) - 1 for s in statuses), (attempt, statuses)
            eventually(lambda: _on_one_chain(nodes, 5), f"start {attempt}: every node holding one block 5")
        finally:
            consortium.close()
        assert all(node.pid is None for node in nodes) and _stopped(pids), f"start {attempt} left processes"
        assert not any(node.ipc_path.exists() or node.signer_path.exists() for node in nodes)
    # The order alone did it: no start needed the stall recovery, nor waited out a step.
    assert [r.getMessage() for r in caplog.records if r.name == "ledger.sealing"] == []


def test_signers_each_stuck_on_their_own_block_1_are_brought_onto_one_chain(geth: Path, tmp_path: Path) -> None:
    consortium = Consortium.create(tmp_path / "split", DEPARTMENTS[:3], geth=geth, light_kdf=True)
    nodes = list(consortium.nodes.values())
    try:
        # Unpeered, each signer seals block 1 alone and may not seal block 2 after itself.
        for node in nodes:
            node.set_peers([])
            node.start(seal=True)
        eventually(lambda: all(node_status(node.url).head == 1 for node in nodes), "each node on its own block 1")
        assert len({block_hash(node.url, 1) for node in nodes}) == 3
        for node in nodes:
            node.stop_sealing()
        for node in nodes:
            for other in nodes:
                if other is not node:
                    node.control("admin_addPeer", [other.enode])
        eventually(lambda: all(node_status(node.url).peers == 2 for node in nodes), "every node peered")

        # Peered, geth may already have settled on the heaviest block 1; nothing seals until the restart.
        assert restart_sealing(nodes) in (0, 1)
        statuses = wait_for_head(nodes, 6, timeout=90)
        assert all(s.head > 5 for s in statuses)
        eventually(lambda: _on_one_chain(nodes, 5), "every node holding one block 5")
    finally:
        consortium.close()


def test_blocks_keep_the_gas_limit_the_consortium_was_created_with(geth: Path, tmp_path: Path) -> None:
    # Not the default: every signer must seal at the genesis's limit (geth's own default target
    # would move each block's limit by 1/1024 towards it).
    consortium = up(tmp_path / "c", 3, services=False, light_kdf=True, gas_limit=40_000_000)
    try:
        nodes = list(consortium.nodes.values())
        wait_for_head(nodes, 3, timeout=60)
        limits = {node.web3().eth.get_block(n)["gasLimit"] for node in nodes for n in (1, 2, 3)}
        assert limits == {40_000_000} and consortium.gas_limit == 40_000_000
    finally:
        consortium.close()
    # A genesis is not changed by starting the consortium again with another limit.
    with pytest.raises(ValueError, match="40000000 gas"):
        up(tmp_path / "c", 3, services=False, gas_limit=50_000_000)
    assert Consortium.open(tmp_path / "c", geth).gas_limit == 40_000_000


@pytest.mark.parametrize("given", ["4999", "lots"])
def test_a_gas_limit_geth_cannot_run_is_refused_with_exit_2(given: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--dir", str(tmp_path), "--gas-limit", given])
    assert exited.value.code == 2 and "--gas-limit" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
