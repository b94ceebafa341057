"""A consortium of three departments for the module: one real geth per department sealing
Clique blocks, the contracts deployed, and each department's node service on its own geth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.compile import ContractArtifact
from ledger.deploy import Ledger, Manifest
from ledger.geth import ensure_geth
from ledger.waiting import wait_for
from node.consortium import Consortium, up


@pytest.fixture(scope="session")
def geth() -> Path:
    """The cached geth 1.13.15 (`make geth` builds it; a bare pytest run builds it here)."""
    return ensure_geth()


@pytest.fixture(scope="module")
def consortium(geth: Path, artifacts: dict[str, ContractArtifact], tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Consortium]:
    directory = tmp_path_factory.mktemp("consortium")
    started = up(directory, 3, artifacts=artifacts)
    try:
        yield started
    finally:
        started.close()


def ledger_on(consortium: Consortium, code: str, artifacts: dict[str, ContractArtifact]) -> Ledger:
    """A read-only view of the deployment through department ``code``'s own geth."""
    return Ledger(consortium.nodes[code].web3(), Manifest.load(consortium.manifest_path), artifacts)


def eventually(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Wait until ``check()`` holds: blocks come every second, and nodes see them a moment apart."""
    wait_for(lambda: True if check() else None, timeout=timeout, what=what, interval=0.25,
             timed_out=lambda: AssertionError(f"not within {timeout:.0f} s: {what}"))
