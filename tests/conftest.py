"""Fixtures shared by every Python test: a real anvil chain and the compiled contracts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.chain import LocalChain, find_anvil
from ledger.compile import PROJECT_ROOT, ContractArtifact, compile_contracts
from tests.utils.ledgers import Suite, deploy


@pytest.fixture(scope="session")
def artifacts() -> dict[str, ContractArtifact]:
    return compile_contracts()


@pytest.fixture(scope="session")
def chain() -> Iterator[LocalChain]:
    with LocalChain(find_anvil(PROJECT_ROOT), accounts=20) as local:
        yield local


@pytest.fixture(scope="module")
def suite(chain: LocalChain, artifacts: dict[str, ContractArtifact]) -> Suite:
    """A suite deployed afresh for each test module, on the session's chain."""
    return deploy(chain, artifacts)
