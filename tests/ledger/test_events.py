"""The raw-JSON decoder gives exactly what web3's decoding gives, on real logs of a chain and
on logs made for every event of every contract."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from eth_abi import encode
from eth_utils.abi import event_abi_to_log_topic

from ledger import ids
from ledger.clients import Action, AnchorKind, PrivacyTerms, QueryInput, QueryRefusal, RefusedQueryInput, Rights, Use
from ledger.compile import ContractArtifact
from ledger.deploy import department_id
from ledger.events import EventDecoder, LogRecord, fetch_logs, log_from_json
from tests.utils.ledgers import Suite, approved_grant


def _both(decoder: EventDecoder, log: dict[str, Any]) -> tuple[Any, Any]:
    """web3's record of ``log`` and the raw decoder's, after checking that what the index
    stores of each is the same."""
    web3, raw = decoder.decode(log_from_json(log)), decoder.decode_json(log)
    stored = decoder.record(log)
    assert (stored is None) == (web3 is None)
    if web3 is not None:
        assert LogRecord.of(web3) == stored and list(LogRecord.of(web3).args) == list(stored.args)  # type: ignore[union-attr]
        assert json.dumps(LogRecord.of(web3).args) == json.dumps(stored.args)  # type: ignore[union-attr]
    return web3, raw


def test_raw_decoding_matches_web3_on_a_chains_logs(suite: Suite) -> None:
    owner, other, consumer = suite.departments[0], suite.departments[1], suite.consumers[0]
    code = hashlib.sha256(b"raw decoding catalog entry").digest()
    owner.registry.register_dataset(code, metadata='{"name":"0x' + "ab" * 20 + '"}', category=b"\x02" * 32, grade=2,
                                    update_interval=60, rights=Rights(department_id("stats-bureau")))
    dataset = ids.dataset_id(department_id("stats-bureau"), code)
    owner.registry.add_version(dataset, hashlib.sha256(b"v1").digest(), '{"fields":["a"]}', 10, 2)
    owner.registry.add_version(dataset, hashlib.sha256(b"v2").digest(), '{"fields":["a"]}', 10, 2)
    owner.registry.purge_version(dataset, 2, b"\x06" * 32, b"\x0e" * 32)
    owner.registry.update_metadata(dataset, "0x" + "cd" * 20)  # a text that looks like an address stays a text
    owner.registry.freeze(dataset, b"\x01" * 32)
    owner.registry.unfreeze(dataset)
    _, grant = approved_grant(owner, consumer, "raw decoding", Action.QUERY)
    owner.usage.record_uses(b"\x07" * 32, [Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(3)]
                            + [Use(b"\x09" * 32, Action.QUERY, b"\x05" * 32)])
    _, query_grant = approved_grant(owner, consumer, "raw decoding queries", Action.QUERY,
                                    terms=PrivacyTerms(2_000_000, 1_000_000, 5, '{"年龄":[0,120]}'))
    owner.usage.record_queries(b"\x08" * 32, [QueryInput(query_grant, b"\x0a" * 32, b"\x0b" * 32, 700_000, 10_000),
                                              QueryInput(query_grant, b"\x0c" * 32, b"\x0d" * 32, 2_000_000, 5)])
    owner.usage.record_refused_queries(b"\x0e" * 32, [RefusedQueryInput(query_grant, b"\x0f" * 32, reason)
                                                      for reason in QueryRefusal])
    owner.grants.revoke(grant, b"\x03" * 32)
    owner.anchors.anchor(hashlib.sha256(b"raw decoding root").digest(), 3, AnchorKind.LIFECYCLE_EVIDENCE)
    owner.anchors.publish_text("a reason, in full: ünïcode too")
    other.quality.open_issue(b"\x04" * 32, dataset, 1, b"\x05" * 32)

    logs = fetch_logs(owner.rpc, owner.events.addresses, 0, owner.w3.eth.block_number)
    pairs = [_both(owner.events, log) for log in logs]
    assert [(web3, raw) for web3, raw in pairs if web3 != raw] == []
    names = {web3.name for web3, _ in pairs if web3 is not None}
    assert {"DatasetRegistered", "VersionAdded", "MetadataUpdated", "DatasetFrozen", "DatasetUnfrozen",
            "AccessRequested", "RequestApproved", "UseRecorded", "UseRefused", "UsesBatchRecorded",
            "GrantRevoked", "RootAnchored", "TextPublished", "IssueOpened", "ConsumerRegistered",
            "QueryTermsRequested", "QueryRecorded", "QueryRefused", "VersionPurged"} <= names
    # Argument order too: the indexer stores the arguments as JSON in the order they come.
    assert all(list(web3.args) == list(raw.args) for web3, raw in pairs if web3 is not None)


def _value(kind: str, rng: random.Random) -> Any:
    if kind.endswith("[]"):
        return [_value(kind[:-2], rng) for _ in range(rng.randrange(3))]
    if kind == "address":
        return "0x" + rng.randbytes(20).hex()
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "string":
        return rng.choice(["", "0x" + rng.randbytes(20).hex(), "text ✓ " * rng.randrange(5)])
    if kind == "bytes":
        return rng.randbytes(rng.randrange(70))
    if kind.startswith("bytes"):
        return rng.randbytes(int(kind[5:]))
    bits = int(kind.lstrip("uint") or 256)
    if kind.startswith("int"):
        return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    return rng.choice([0, 1, (1 << bits) - 1, rng.randrange(1 << bits)])


def _topic(kind: str, value: Any) -> str:
    if kind in ("string", "bytes") or kind.endswith("]"):
        return "0x" + hashlib.sha256(repr(value).encode()).hexdigest()  # only a hash goes in the topic
    return "0x" + encode([kind], [value]).hex()


@pytest.mark.parametrize("seed", range(5))
def test_raw_decoding_matches_web3_on_every_event(suite: Suite, artifacts: dict[str, ContractArtifact],
                                                  seed: int) -> None:
    rng, decoder = random.Random(seed), suite.coordinator.events
    for name, address in suite.coordinator.manifest.addresses.items():
        for abi in (item for item in artifacts[name].abi if item["type"] == "event"):
            indexed = [i for i in abi["inputs"] if i["indexed"]]
            data = [i for i in abi["inputs"] if not i["indexed"]]
            values = {i["name"]: _value(i["type"], rng) for i in abi["inputs"]}
            log = {"address": address.lower(), "data": "0x" + encode([i["type"] for i in data],
                                                                       [values[i["name"]] for i in data]).hex(),
                   "topics": ["0x" + event_abi_to_log_topic(abi).hex()] + [_topic(i["type"], values[i["name"]])
                                                                            for i in indexed],
                   "blockNumber": hex(rng.randrange(1 << 30)), "blockHash": "0x" + rng.randbytes(32).hex(),
                   "transactionHash": "0x" + rng.randbytes(32).hex(), "transactionIndex": "0x0",
                   "logIndex": hex(rng.randrange(1000)), "removed": False}
            web3, raw = _both(decoder, log)
            assert web3 is not None and web3 == raw and list(web3.args) == list(raw.args), abi["name"]
