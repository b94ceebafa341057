"""Three departments, one geth each, sealing one Clique chain: writes reach every node, a node
that stops keeps its writes and catches up, and membership votes move the Clique signers."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ledger import ids
from ledger.clients import Action, Rights
from ledger.compile import PROJECT_ROOT, ContractArtifact
from ledger.deploy import Manifest, department_id
from ledger.geth import clique_genesis, node_status
from ledger.rpc import RpcBatcher
from node.catalog.register import register_dataset
from node.access.uses import UseRequest, queue_uses
from node.chain.signers import SignerWatcher
from node.consortium import Consortium
from tests.consortium.conftest import eventually, ledger_on

pytestmark = pytest.mark.timeout(300)

HTTP_REFUSED = (
    ("clique_propose", ["0x" + "11" * 20, True]), ("clique_getSigners", []),
    ("admin_addPeer", ["enode://" + "ab" * 64 + "@127.0.0.1:1"]), ("admin_nodeInfo", []), ("miner_stop", []),
    ("txpool_content", []), ("debug_setHead", ["0x1"]),
    ("personal_unlockAccount", ["0x" + "11" * 20, "", 0]),
)
"""Calls only the IPC socket serves: over HTTP each is "method not found"."""


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _signers(consortium: Consortium, code: str) -> tuple[str, ...]:
    """The Clique signers department ``code``'s geth reports, asked over its IPC socket."""
    node = consortium.nodes[code]
    return node_status(node.url, ipc_path=node.ipc_path).signers


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run blocking chain calls side by side: each waits for its own confirmations."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def test_the_genesis_stays_before_the_merge_with_the_validators_as_clique_signers() -> None:
    signers = ["0x" + "bb" * 20, "0x" + "aa" * 20]
    genesis = clique_genesis(77, signers, {signers[0]: 5}, period=2)
    config = genesis["config"]
    assert config["clique"]["period"] == 2 and config["londonBlock"] == config["grayGlacierBlock"] == 0
    assert not {"terminalTotalDifficulty", "shanghaiTime", "cancunTime"} & set(config)
    assert genesis["extraData"] == "0x" + "00" * 32 + "aa" * 20 + "bb" * 20 + "00" * 65
    assert genesis["alloc"] == {"bb" * 20: {"balance": "0x5"}}
    with pytest.raises(ValueError):
        clique_genesis(77, signers, {}, period=0)


def test_status_shows_every_department_peered_signing_and_at_the_head(consortium: Consortium) -> None:
    out = subprocess.run([sys.executable, "-m", "node.consortium", "status", "--dir", str(consortium.directory)],
                         capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, check=True).stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.split()[0] in consortium.members}
    assert set(rows) == set(consortium.members)
    for code, (_, validator, url, up, peers, head, lag, signer, *name) in rows.items():
        assert (validator, url) == (consortium.members[code].validator, consortium.nodes[code].url)
        assert " ".join(name) == consortium.members[code].name
        assert (up, int(peers), signer) == ("yes", 2, "yes") and int(head) > 0 and int(lag) <= 3
    assert "clique signers (3)" in out


def test_no_http_caller_can_send_or_sign_as_the_validator_nor_vote_peer_or_seal(consortium: Consortium) -> None:
    code = "health-commission"
    node, member = consortium.nodes[code], consortium.members[code]
    http = RpcBatcher(node.url)
    try:
        modules, send, sign, *admin = http.call([
            ("rpc_modules", []),
            ("eth_sendTransaction", [{"from": member.validator, "to": member.service, "value": "0x1"}]),
            ("eth_sign", [member.validator, "0x" + b"vote me in".hex()]),
            *((method, params) for method, params in HTTP_REFUSED),
        ])
        nonce = http.call([("eth_getTransactionCount", [member.validator, "pending"])])[0].result
    finally:
        http.close()
    assert set(modules.result) - {"rpc"} == {"eth", "net", "web3"}
    assert send.error and "Clique headers only" in send.message and int(nonce, 16) == 0
    assert sign.error and "Clique headers only" in sign.message
    for (method, _), reply in zip(HTTP_REFUSED, admin):
        assert reply.error and reply.error["code"] == -32601, (method, reply)
    # The operator's way in is the IPC socket, and the validator still seals through its signer.
    assert node.control("clique_proposals") == {}
    assert node.control("clique_status")["sealerActivity"].get(member.validator.lower(), 0) > 0
    assert node.pid is not None
    argv = Path(f"/proc/{node.pid}/cmdline").read_bytes().split(b"\0")
    assert not {b"--unlock", b"--allow-insecure-unlock", b"--password"} & set(argv)
    assert argv[argv.index(b"--http.api") + 1] == b"eth,net,web3"
    folder = consortium.directory / code
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (
        node.datadir, node.ipc_path, node.signer_path, node.validator_keystore, folder / "passphrase",
        folder / "keys" / "node.json", folder / "keys" / "service.json")}
    assert modes == {path: 0o700 if path == node.datadir else 0o600 for path in modes}


def test_a_write_from_each_department_is_visible_on_every_node(
    consortium: Consortium, artifacts: dict[str, ContractArtifact]
) -> None:
    registered = {}
    for code, node in consortium.services.items():
        with node.service.sessions() as session:
            dataset = register_dataset(session, department=code, code="census-2026", name=f"Census ({code})",
                                       category="population", grade=1, update_interval=86400)
            session.commit()
        registered[code] = bytes.fromhex(dataset.dataset_id[2:])
    for node in consortium.services.values():
        node.wait_idle()
    for reader in consortium.nodes:
        ledger = ledger_on(consortium, reader, artifacts)
        for owner, dataset_id in registered.items():
            eventually(lambda: ledger.registry.dataset(dataset_id).owner_department == department_id(owner),
                       f"{owner}'s dataset on {reader}'s node")


def test_a_stopped_node_keeps_the_writes_sent_to_it_and_catches_up(
    consortium: Consortium, artifacts: dict[str, ContractArtifact]
) -> None:
    stopped, running = "public-security", "stats-bureau"
    requester = consortium.services["health-commission"].service.ledger
    owners = {code: consortium.services[code].service.ledger for code in (stopped, running)}
    datasets = {code: _h(f"uses dataset of {code}") for code in owners}
    grants = {code: _h(f"grant on the dataset of {code}") for code in owners}
    _together(*(lambda c=c: owners[c].registry.register_dataset(
        datasets[c], metadata="{}", category=_h("category"), grade=1, update_interval=0,
        rights=Rights(department_id(c))) for c in owners))
    datasets = {c: ids.dataset_id(department_id(c), datasets[c]) for c in owners}
    _together(*(lambda c=c: requester.grants.request_access(
        grants[c], dataset_id=datasets[c], purpose="a consortium test", schema_hash=_h("schema"), fields=[],
        actions=Action.mask(Action.QUERY), duration=3600, max_uses=100) for c in owners))
    assert requester.sender is not None
    grants = {c: ids.grant_id(requester.sender.address, grants[c]) for c in owners}
    _together(*(lambda c=c: owners[c].grants.approve(grants[c]) for c in owners))

    def queue(code: str, label: str, count: int) -> None:
        uses = [UseRequest(_hex(_h(f"{code} {label} use {i}")), _hex(grants[code]), Action.QUERY,
                           _hex(_h(f"{code} {label} answer {i}"))) for i in range(count)]
        with consortium.services[code].service.sessions() as session:
            queue_uses(session, uses, batch_size=5)
            session.commit()

    queue(stopped, "before", 10)
    consortium.stop_node(stopped)
    queue(stopped, "while stopped", 10)
    queue(running, "while stopped", 10)

    others = [code for code in consortium.nodes if code != stopped]
    head_at_stop = node_status(consortium.nodes[running].url).head
    consortium.services[running].wait_idle()
    for code in others:
        ledger = ledger_on(consortium, code, artifacts)
        eventually(lambda: ledger.usage.uses_of(grants[running]) == 10, f"uses of {running} on {code}'s node")
        eventually(lambda: node_status(consortium.nodes[code].url).head >= head_at_stop + 3,
                   f"{code}'s node sealing on without {stopped}'s")
        assert ledger.usage.uses_of(grants[stopped]) <= 10
    assert consortium.services[stopped].service.outbox.open_count() >= 2

    consortium.start_node(stopped)
    consortium.wait_in_sync(timeout=120)
    consortium.services[stopped].wait_idle(timeout=150)
    for code in consortium.nodes:
        ledger = ledger_on(consortium, code, artifacts)
        eventually(lambda: ledger.usage.uses_of(grants[stopped]) == 20, f"every use of {stopped} on {code}'s node")
    urls = [node.url for node in consortium.nodes.values()]
    eventually(lambda: len({node_status(url).head_hash for url in urls}) == 1, "one head hash on every node")


def test_admitting_a_fourth_department_makes_it_a_signer_and_removing_it_drops_it(consortium: Consortium) -> None:
    founders = list(consortium.nodes)
    members = [consortium.services[code].service.ledger.consortium for code in founders]
    joiner = consortium.add_department("ecology-bureau", "Ecology and Environment Bureau")
    joiner_id = department_id(joiner.code)
    try:
        members[0].propose_admission(_h("admit the ecology bureau"), joiner_id, joiner.name, joiner.validator,
                                     joiner.service)
        admit = members[0].proposal_id_of(members[0]._sender().address, _h("admit the ecology bureau"))
        _together(*(lambda m=m: m.vote(admit) for m in members[:2]))
        members[0].execute(admit)
        for code in consortium.nodes:
            eventually(lambda: joiner.validator in _signers(consortium, code),
                       f"{joiner.code}'s validator among the signers on {code}'s node")
        joiner_node = consortium.nodes[joiner.code]
        eventually(lambda: joiner_node.control("clique_status")["sealerActivity"].get(joiner.validator.lower(), 0) > 0,
                   f"{joiner.code}'s node sealing blocks")

        members[1].propose_removal(_h("remove the ecology bureau"), joiner_id)
        remove = members[1].proposal_id_of(members[1]._sender().address, _h("remove the ecology bureau"))
        _together(*(lambda m=m: m.vote(remove) for m in members))
        members[1].execute(remove)
        for code in founders:
            eventually(lambda: joiner.validator not in _signers(consortium, code),
                       f"{joiner.code}'s validator out of the signers on {code}'s node")
        assert _signers(consortium, founders[0]) == tuple(
            sorted((consortium.members[c].validator for c in founders), key=str.lower))
        # A watcher started afresh reads the same history and finds nothing left to vote on.
        again = SignerWatcher(members[2], from_block=Manifest.load(consortium.manifest_path).deployment_block,
                              clique=consortium.nodes[founders[2]].ipc())
        assert again.step() == []
        assert again.wanted == {**{consortium.members[c].validator: True for c in founders}, joiner.validator: False}
    finally:
        consortium.stop_node(joiner.code)
