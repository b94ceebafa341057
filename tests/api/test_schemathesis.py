"""Schemathesis over the whole API, as the public and as each role, with every check: no input
makes a 5xx, every status and body answered is the one declared (timestamps with their zone
included), bad input is refused, good input accepted, and a route needing a session refuses
a request without one.

The live stream is left out: it answers 200 and never ends, by design. Fuzzing repeats until
each role's time budget is spent: 25 s in `make test`, 120 s in `make soak`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.staff import create_staff
from ledger.chain import free_port
from node.service import NodeService
from tests.api.clients import siwe_token, staff_token
from tests.api.conftest import serve
from tests.utils.ledgers import Suite

pytestmark = pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True, scope="module")
PASSWORD = "schemathesis staff password"
CONFIG = Path(__file__).with_name("schemathesis.toml")
"""The few operations where a schema-valid request may still be refused with 422, and why."""
BUDGET = "120" if os.environ.get("PROVLEDGER_SOAK") == "1" else "25"


@pytest.fixture(scope="module")
def base_url(node: NodeService) -> Iterator[str]:
    port = free_port()
    with node.sessions() as session:
        create_staff(session, "fuzz.staff", PASSWORD, "admin")
        session.commit()
    with serve(create_app(node, domain=f"127.0.0.1:{port}"), port, lifespan=True) as served:
        yield served.base_url


def _tokens(base_url: str, node: NodeService, suite: Suite) -> dict[str, str | None]:
    domain, chain_id = base_url.removeprefix("http://"), node.ledger.manifest.chain_id
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return {"public": None, "department": staff_token(http, "fuzz.staff", PASSWORD),
                "consumer": siwe_token(http, suite.accounts[7], domain, chain_id),
                "auditor": siwe_token(http, suite.accounts[9], domain, chain_id)}


def test_the_api_keeps_its_contract(base_url: str, node: NodeService, suite: Suite, tmp_path: Path) -> None:
    failures = []
    for role, token in _tokens(base_url, node, suite).items():
        command = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", f"{base_url}/openapi.json",
            "--checks", "all", "--max-examples", "10", "--max-time", BUDGET, "--seed", "2026",
            "--exclude-path", "/stream/uses", "--request-timeout", "30", "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
            "--report", "junit", "--report-dir", str(tmp_path / role), "--no-color",
        ]
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            failures.append(f"--- as {role} (exit {run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}")
    assert not failures, "\n".join(failures)
