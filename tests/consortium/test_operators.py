"""Departments run their own nodes with the operator's commands, each from its own folder and
its own processes, exchanging only public files (facts, genesis, peers, manifest) through a
shared mailbox: three founders start a chain without any controller, the coordinator deploys,
and a fourth department voted in joins, becomes a Clique signer, and stops signing once voted out."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.chain import free_port
from ledger.compile import PROJECT_ROOT
from ledger.deploy import Ledger, Manifest, department_id
from ledger.geth import NodeStatus, clique_web3, node_status
from ledger.tx import LIGHT_SCRYPT_N, write_keystore
from ledger.waiting import wait_for
from node.consortium.folder import Facts, FolderError, founding_genesis, genesis_signers
from node.consortium.operator import may_release
from node.service import load_artifacts
from tests.api.clients import staff_token
from tests.utils.governance import Staff

pytestmark = pytest.mark.timeout(480)

FOUNDERS = (("civil-affairs", "Civil Affairs Bureau"), ("market-regulation", "Market Regulation Bureau"),
            ("big-data", "Big Data Bureau"))
NEWCOMER = ("water-resources", "Water Resources Bureau")
PASSPHRASE = "operator test passphrase, not a demo one"


@dataclass
class Department:
    code: str
    name: str
    folder: Path
    p2p: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    authrpc: int = field(default_factory=free_port)
    api: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> dict[str, object]:
        return json.loads((self.folder / "node.json").read_text())

    @property
    def facts(self) -> dict[str, str]:
        return json.loads((self.folder / "facts.json").read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    @property
    def chain_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


def provledger(*argv: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *argv], capture_output=True, text=True, input=stdin,
                          timeout=timeout, cwd=PROJECT_ROOT, env=_env())


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROVLEDGER_", "GETH_"))}
    return clean | {"PROVLEDGER_PASSPHRASE": PASSPHRASE}


def eventually(check: object, what: str, timeout: float = 120.0) -> object:
    probe = check  # a callable returning a truthy value once done
    return wait_for(lambda: probe() or None, timeout=timeout, what=what, interval=0.5,  # type: ignore[operator]
                    timed_out=lambda: AssertionError(f"not within {timeout:.0f} s: {what}"))


def init(department: Department, secret: Path, *extra: str) -> None:
    done = provledger("node", "init", "--dir", str(department.folder), "--code", department.code, "--name",
                      department.name, "--host", "127.0.0.1", "--p2p-port", str(department.p2p), "--http-port",
                      str(department.http), "--authrpc-port", str(department.authrpc), "--api-port",
                      str(department.api), "--passphrase-file", str(secret), "--light-kdf", *extra)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == department.facts


def start(department: Department, mailbox: Path, command: str = "start") -> None:
    log = open(department.folder.parent / f"{department.code}.log", "ab")
    department.process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "node", command, "--dir", str(department.folder), "--genesis",
         str(mailbox / "genesis.json"), "--peers", str(mailbox / "peers.txt"), "--manifest",
         str(mailbox / "manifest.json")], stdout=log, stderr=log, cwd=PROJECT_ROOT, env=_env())
    log.close()


def stop(department: Department) -> None:
    process, department.process = department.process, None
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def signers(department: Department) -> tuple[str, ...]:
    return node_status(department.chain_url, ipc_path=department.folder / "geth" / "geth.ipc").signers


def admin(department: Department, user: str, clients: list[httpx.Client]) -> Staff:
    """A department's admin, signed in at its own node's API."""
    http = httpx.Client(base_url=department.url, timeout=60)
    clients.append(http)
    return Staff(department.code, http, staff_token(http, user, "an admin password of the test"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Department], list[httpx.Client]]]:
    root = tmp_path_factory.mktemp("ops")
    mailbox = root / "mailbox"
    mailbox.mkdir()
    departments = [Department(code, name, root / code) for code, name in (*FOUNDERS, NEWCOMER)]
    clients: list[httpx.Client] = []
    try:
        yield mailbox, departments, clients
    finally:
        for http in clients:
            http.close()
        for department in departments:
            stop(department)


def test_three_departments_found_a_consortium_and_a_fourth_is_voted_in_and_out(
        site: tuple[Path, list[Department], list[httpx.Client]]) -> None:
    mailbox, departments, clients = site
    founders, newcomer = departments[:3], departments[3]
    secret = mailbox.parent / "secret"
    secret.touch(mode=0o600)
    secret.write_text(PASSPHRASE)

    # Each founder makes its keys on its own machine and hands out its facts alone.
    for i, department in enumerate(founders):
        init(department, secret, *(["--coordinator"] if i == 0 else []))
        shutil.copy(department.folder / "facts.json", mailbox / f"{department.code}.json")
    coordinator = founders[0]
    assert coordinator.facts["coordinator"] and not founders[1].facts["coordinator"]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (
        coordinator.folder, coordinator.folder / "keys", coordinator.folder / "geth" / "keystore",
        coordinator.folder / "keys" / "node.json", coordinator.folder / "keys" / "service.json",
        coordinator.folder / "keys" / "coordinator.json", *(coordinator.folder / "geth" / "keystore").iterdir())}
    assert modes == {p: 0o700 if p.is_dir() else 0o600 for p in modes}
    assert PASSPHRASE not in (coordinator.folder / "node.json").read_text()
    again = provledger("node", "init", "--dir", str(coordinator.folder), "--code", "x", "--name", "x", "--host",
                       "127.0.0.1", "--p2p-port", "1", "--passphrase-file", str(secret))
    assert again.returncode == 2 and "holds a node already" in again.stderr

    facts = sorted(str(p) for p in mailbox.glob("*.json"))
    made = provledger("consortium", "genesis", "--facts", *facts, "--chain-id", "20991", "--gas-limit", "25000000",
                      "--out", str(mailbox / "genesis.json"), "--peers-out", str(mailbox / "peers.txt"))
    assert made.returncode == 0, made.stderr
    genesis = json.loads((mailbox / "genesis.json").read_text())
    assert int(genesis["gasLimit"], 16) == 25_000_000
    assert sorted((mailbox / "peers.txt").read_text().split()) == sorted(d.facts["enode"] for d in founders)
    too_few = provledger("consortium", "genesis", "--facts", *facts[:2], "--chain-id", "1", "--out",
                         str(mailbox / "x.json"))
    assert too_few.returncode == 2 and "at least 3" in too_few.stderr

    # Every founder starts its node with no controller; the chain moves past the founding blocks.
    for department in founders:
        start(department, mailbox)
    eventually(lambda: all(node_status(d.chain_url).head >= 5 for d in founders), "every founder past block 5")
    assert set(signers(founders[1])) == {d.facts["validator"] for d in founders}

    deployed = provledger("consortium", "deploy", "--dir", str(coordinator.folder), "--facts", *facts, "--out",
                          str(mailbox / "manifest.json"), timeout=240)
    assert deployed.returncode == 0, deployed.stderr
    manifest = mailbox / "manifest.json"
    for department in founders:
        eventually(lambda d=department: _health(d), f"{department.code}'s API")
        added = provledger("staff", "add", f"{department.code}.admin", "--role", "admin", "--password-stdin",
                           "--dir", str(department.folder), stdin="an admin password of the test\n")
        assert added.returncode == 0, added.stderr
    admins = [admin(d, f"{d.code}.admin", clients) for d in founders]
    state = admins[1].eventually(lambda s: s if len(s["members"]) == 3 else None, "the founders seated")
    assert {(m["code"], m["name"]) for m in state["members"]} == {(d.code, d.name) for d in founders}
    assert coordinator.facts["service_account"] in state["coordinators"]

    # A fourth department makes its keys and joins once voted in; the coordinator's node funds it.
    init(newcomer, secret)
    shutil.copy(newcomer.folder / "facts.json", mailbox / f"{newcomer.code}.json")
    start(newcomer, mailbox, "join")
    eventually(lambda: node_status(newcomer.chain_url).head >= node_status(founders[0].chain_url).head - 2 > 0,
               "the newcomer synced")
    new = newcomer.facts
    proposal = admins[0].accepted("/consortium/proposals", {
        "kind": "admission", "code": new["code"], "name": new["name"], "validator": new["validator"],
        "service_account": new["service_account"]})["proposal"]
    for voter in admins[:2]:
        voter.accepted(f"/consortium/proposals/{proposal}/vote")
    admins[1].accepted(f"/consortium/proposals/{proposal}/execute")
    eventually(lambda: new["validator"] in signers(founders[2]), "the newcomer a Clique signer", 180)
    chain = clique_web3(founders[0].chain_url)
    eventually(lambda: chain.eth.get_balance(new["service_account"]) > 0, "gas for the newcomer")
    eventually(lambda: _health(newcomer), "the newcomer's API")
    added = provledger("staff", "add", "water.admin", "--role", "admin", "--password-stdin", "--dir",
                       str(newcomer.folder), stdin="an admin password of the test\n")
    assert added.returncode == 0, added.stderr

    # The newcomer registers a dataset; a consumer it sponsors gets a grant and a delivery on a founder's data.
    people = mailbox.parent / "people.csv"
    people.write_text("name,id_number,visits\n" + "".join(f"Person {i},1101011990030{i:04d},{i}\n" for i in range(6)))
    theirs = register(newcomer, "water.admin", people, "wells")
    owner = founders[1]
    mine = register(owner, f"{owner.code}.admin", people, "census")
    consumer = Account.create()
    keystore = mailbox.parent / "consumer.json"
    write_keystore(consumer, keystore, PASSPHRASE, scrypt_n=LIGHT_SCRYPT_N)
    sponsor = admin(newcomer, "water.admin", clients)
    sponsor.accepted("/consortium/consumers", {"address": consumer.address, "organisation": "Water Institute",
                                               "contact": "data desk", "purpose": "water census checks"})
    eventually(lambda: chain.eth.get_balance(consumer.address) > 0, "gas for the consumer")
    as_consumer = ("--keystore", str(keystore))
    asked = provledger("request", "--dataset", mine, "--purpose", "a water census check", "--fields", "visits",
                       "--uses", "1", "--days", "1", "--api", owner.url, *as_consumer)
    assert asked.returncode == 0, asked.stderr
    grant = re.search(r"grant (0x[0-9a-f]{64}) requested", asked.stdout)
    assert grant is not None, asked.stdout
    staff = ("--api", owner.url, "--user", f"{owner.code}.admin", "--password", "an admin password of the test")
    # The request is decided with its purpose in view: once the owner's node has indexed it.
    eventually(lambda: grant.group(1) in provledger("review", *staff, "--json").stdout, "the request in the review queue")
    approved = provledger("approve", grant.group(1), *staff)
    assert approved.returncode == 0, approved.stderr
    out = mailbox.parent / "delivery.csv"
    delivered = provledger("use", grant.group(1), "--out", str(out), "--api", owner.url, *as_consumer)
    assert delivered.returncode == 0, delivered.stderr
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["name", "id_number", "visits"] and [r[2] for r in rows[1:]] == [str(i) for i in range(6)]
    assert "11010119900300001" not in out.read_text()  # the ID numbers masked
    on_owner = Ledger(clique_web3(owner.chain_url), Manifest.load(manifest), load_artifacts()).registry.dataset(
        bytes.fromhex(theirs[2:]))
    assert on_owner.owner_department == department_id(newcomer.code)

    # Voted out, it stops signing.
    removal = admins[0].accepted("/consortium/proposals", {"kind": "removal", "code": new["code"]})["proposal"]
    for voter in admins:  # 4 members now: a majority is 3
        voter.accepted(f"/consortium/proposals/{removal}/vote")
    admins[-1].accepted(f"/consortium/proposals/{removal}/execute")  # on the node that saw the last vote
    eventually(lambda: new["validator"] not in signers(founders[0]), "the newcomer no signer", 180)

    for department in departments:
        stop(department)
        assert not (department.folder / "geth" / "geth.ipc").exists()


def register(department: Department, user: str, source: Path, code: str) -> str:
    done = provledger("dataset", "register", str(source), "--code", code, "--name", code.title(), "--category",
                      "population", "--grade", "1", "--interval", "86400", "--field-class", "name=name",
                      "--field-class", "id_number=id_number", "--api", department.url, "--user", user,
                      "--password", "an admin password of the test", timeout=180)
    assert done.returncode == 0, done.stderr
    found = re.search(r"dataset (0x[0-9a-f]{64}) registered", done.stdout)
    assert found is not None, done.stdout
    return found.group(1)


def _health(department: Department) -> bool:
    try:
        return httpx.get(f"{department.url}/health", timeout=5).status_code in (200, 503)
    except httpx.HTTPError:
        return False


# ---------------------------------------------------------------- the rules, without a chain

VALIDATORS = sorted((Account.create().address for _ in range(3)), key=str.lower)


@pytest.mark.parametrize(("validator", "head", "peers", "up", "released"), [
    (VALIDATORS[0], 0, 2, True, True),    # the first signer seals block 1 once peered with both others
    (VALIDATORS[0], 0, 1, True, False),   # not before
    (VALIDATORS[1], 0, 2, True, False),   # the second waits for block 1
    (VALIDATORS[1], 1, 2, True, True),
    (VALIDATORS[2], 1, 2, True, False),
    (VALIDATORS[2], 2, 2, True, True),
    (VALIDATORS[2], 3, 0, True, True),    # past the founding blocks (a restart): at once
    ("0x" + "ab" * 20, 0, 0, True, True),  # no signer yet (a joining department): at once
    (VALIDATORS[0], 5, 2, False, False),  # its geth does not answer
])
def test_each_founder_releases_its_seals_by_its_turn_in_the_signer_list(
        validator: str, head: int, peers: int, up: bool, released: bool) -> None:
    status = NodeStatus("http://127.0.0.1:1", up, peers, head)
    assert may_release(validator, list(reversed(VALIDATORS)), status, founders=2) is released


def test_the_genesis_names_the_founders_as_signers_and_funds_their_accounts_and_the_coordinator() -> None:
    facts = [Facts(f"d{i}", f"D {i}", v, Account.create().address, f"enode://{i:0128x}@10.0.0.{i}:30303",
                   Account.create().address if i == 0 else None) for i, v in enumerate(VALIDATORS)]
    genesis = founding_genesis(facts, chain_id=7, period=2, gas_limit=12_000_000)
    assert genesis_signers(genesis) == VALIDATORS and int(genesis["gasLimit"], 16) == 12_000_000
    funded = {f.service_account[2:].lower() for f in facts} | {str(facts[0].coordinator)[2:].lower()}
    assert set(genesis["alloc"]) == funded
    for broken, why in ((facts[:2], "at least 3"), ([facts[0], facts[1], facts[1]], "same code"),
                        ([replace(f, coordinator=None) for f in facts], "exactly one founder"),
                        ([replace(f, coordinator=f.validator) for f in facts], "exactly one founder")):
        with pytest.raises(FolderError, match=why):
            founding_genesis(broken, chain_id=7)
