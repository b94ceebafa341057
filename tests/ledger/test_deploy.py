"""Deploying the suite, its manifest, and decoding its events from chunked log fetches."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, Rights, Use
from ledger.compile import ContractArtifact
from ledger.deploy import SUITE, Ledger, Manifest, department_id
from ledger.errors import ContractError, ManifestMismatch
from ledger.events import block_ranges, fetch_events
from ledger.tx import TransactionSender
from tests.utils.ledgers import DEPARTMENTS, Suite


def test_deployment_seats_the_founders_and_closes_founding(suite: Suite) -> None:
    consortium = suite.coordinator.consortium
    assert consortium.members() == [department_id(code) for code in DEPARTMENTS]
    assert consortium.department(department_id("stats-bureau")).active
    with pytest.raises(ContractError) as caught:
        consortium.seat_founding_department(department_id("late"), "Late", suite.accounts[10].address,
                                            suite.accounts[10].address)
    assert caught.value.name == "ConsortiumFoundingClosed"


def test_manifest_round_trips_through_a_file(suite: Suite, tmp_path: Path,
                                             artifacts: dict[str, ContractArtifact]) -> None:
    manifest = suite.coordinator.manifest
    loaded = Manifest.load(manifest.save(tmp_path / "deployment.json"))
    assert loaded == manifest
    assert set(loaded.addresses) == set(SUITE)
    ledger = Ledger(suite.coordinator.w3, loaded, artifacts, check_code=True)
    assert ledger.consortium.members() == suite.coordinator.consortium.members()


def test_manifest_with_a_stale_abi_or_no_code_is_refused(suite: Suite, artifacts: dict[str, ContractArtifact]) -> None:
    manifest = suite.coordinator.manifest
    stale = Manifest(**{**manifest.__dict__, "abi_hashes": {**manifest.abi_hashes, "UsageLog": "0" * 64}})
    with pytest.raises(ManifestMismatch, match="UsageLog"):
        Ledger(suite.coordinator.w3, stale, artifacts)
    empty = Manifest(**{**manifest.__dict__, "addresses": {**manifest.addresses, "QualityBoard": "0x" + "12" * 20}})
    with pytest.raises(ManifestMismatch, match="no code"):
        Ledger(suite.coordinator.w3, empty, artifacts, check_code=True)


def test_department_ids_are_short_codes() -> None:
    assert department_id("a") == b"a" + b"\x00" * 31
    with pytest.raises(ValueError):
        department_id("x" * 32)


def test_events_decode_into_records_across_chunks(suite: Suite, chain: LocalChain) -> None:
    owner = suite.departments[0]
    dataset = b"events-dataset".ljust(32, b"\x00")
    owner.registry.register_dataset(dataset, metadata="{}", category=b"\x02" * 32, grade=1,
                                    update_interval=3600, rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), dataset)
    owner.registry.add_version(dataset, b"\x03" * 32, "{}", 100, 5)
    key = b"events-grant".ljust(32, b"\x00")
    suite.consumers[0].grants.request_access(key, dataset_id=dataset, purpose="a test of the ledger", schema_hash=b"\x06" * 32,
                                             fields=["visits"], actions=Action.mask(Action.QUERY), duration=3600,
                                             max_uses=5)
    grant = ids.grant_id(suite.accounts[7].address, key)
    owner.grants.approve(grant)
    owner.usage.record_uses(b"events-batch".ljust(32, b"\x00"),
                            [Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(7)])
    head = chain.web3().eth.block_number
    start = suite.coordinator.manifest.deployment_block
    whole = list(fetch_events(owner.w3, owner.events, start, head, chunk=10_000))
    chunked = list(fetch_events(owner.w3, owner.events, start, head, chunk=3))
    assert whole == chunked
    assert [e.key for e in whole] == sorted(e.key for e in whole)
    names = [e.name for e in whole if e.contract != "Consortium"]
    assert names[-8:] == ["UseRecorded"] * 5 + ["UseRefused"] * 2 + ["UsesBatchRecorded"]
    recorded = [e for e in whole if e.name == "UseRecorded"]
    assert [e.args["sequence"] for e in recorded] == [1, 2, 3, 4, 5]
    assert recorded[0].args["datasetId"] == dataset and recorded[0].args["grantId"] == grant
    refused = [e for e in whole if e.name == "UseRefused"]
    assert {e.args["reason"] for e in refused} == {8}
    assert {e.contract for e in whole} >= {"Consortium", "DataRegistry", "AccessGrants", "UsageLog"}


def test_block_ranges_cover_every_block_once() -> None:
    assert list(block_ranges(5, 14, 4)) == [(5, 8), (9, 12), (13, 14)]
    assert list(block_ranges(3, 2, 4)) == []


def test_a_ledger_owns_one_batcher_to_its_url_and_closes_it(suite: Suite,
                                                            artifacts: dict[str, ContractArtifact]) -> None:
    coordinator = suite.coordinator
    ledger = Ledger(coordinator.w3, coordinator.manifest, artifacts)
    rpc = ledger.rpc
    assert rpc is ledger.rpc and rpc is ledger.consortium.rpc and rpc is ledger.usage.rpc
    assert rpc.url == coordinator.url and rpc is not coordinator.rpc
    assert rpc.call([("eth_chainId", [])])[0].result == hex(coordinator.w3.eth.chain_id)
    ledger.close()
    assert rpc.closed
    again = ledger.rpc
    assert again is not rpc and not again.closed
    ledger.close()
    assert again.closed


def test_a_ledger_sends_through_the_sender_it_is_given_and_teaches_its_decoder_the_suite(
        suite: Suite, chain: LocalChain, artifacts: dict[str, ContractArtifact]) -> None:
    w3 = chain.web3()
    sender = TransactionSender(w3, Account.from_key(chain.private_keys[10]))
    decoder = sender.errors
    ledger = Ledger(w3, suite.coordinator.manifest, artifacts, sender)
    assert ledger.sender is sender and ledger.consortium.sender is sender
    with pytest.raises(ContractError) as caught:  # decoded with the suite's errors all the same
        ledger.consortium.seat_founding_department(department_id("late"), "Late", sender.address, sender.address)
    assert caught.value.contract == "Consortium" and caught.value.name != "Error"
    assert sender.errors is decoder
    call = ledger.consortium.contract.functions.seatFoundingDepartment(department_id("late"), "Late", sender.address,
                                                                      sender.address)
    with pytest.raises(ContractError) as direct:  # waited for through the sender itself
        sender.transact(call)
    assert direct.value.name == caught.value.name
    ledger.close()
