"""Verifying a page reads each event whose arguments are one word each from its raw log
(``ChainSets.row``), no longer through web3's decoder: on every log of a real chain the two
say the same, and a log the ABI decoder would refuse is left to it."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.chain import LocalChain
from ledger.clients import Action, Use
from ledger.events import log_from_json
from node.audit.chainsets import ChainSets, Subject
from node.audit.verify import ROW_COLUMNS, verify_events
from node.chain.indexer import event_row
from node.errors import ChainMoved
from node.models import ChainEventRow
from tests.utils.ledgers import Suite, approved_grant


def _logs(chain: LocalChain, suite: Suite) -> list[dict[str, Any]]:
    ledger = suite.coordinator
    reply = ledger.rpc.call([("eth_getLogs", [{"address": ledger.events.addresses,
                                               "fromBlock": hex(ledger.manifest.deployment_block),
                                               "toBlock": "latest"}])])[0]
    logs: list[dict[str, Any]] = reply.result
    return logs


def test_every_log_read_whole_from_its_words_is_what_the_decoder_reads(chain: LocalChain, suite: Suite) -> None:
    owner, holder = suite.departments[0], suite.consumers[0]
    dataset, grant = approved_grant(owner, holder, "verify words", Action.QUERY, Action.DOWNLOAD)
    owner.usage.record_uses(hashlib.sha256(b"verify words").digest(), [
        Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(3)] + [Use(grant, Action.ANALYSE, b"\x07" * 32)])
    reader = ChainSets(owner)

    read, names = 0, set()
    for log in _logs(chain, suite):
        fast = reader.row(log)
        decoded = owner.events.decode(log_from_json(log))
        if fast is None:
            continue
        assert decoded is not None
        slow = event_row(decoded)
        assert [getattr(fast, c) for c in ROW_COLUMNS] == [getattr(slow, c) for c in ROW_COLUMNS], decoded.name
        read, names = read + 1, names | {fast.name}
    assert {"UseRecorded", "UseRefused", "RequestApproved"} <= names, names
    assert read > 10


def test_a_log_the_decoder_would_refuse_is_left_to_it(chain: LocalChain, suite: Suite) -> None:
    reader = ChainSets(suite.coordinator)
    logs = _logs(chain, suite)

    def first(name: str) -> dict[str, Any]:
        return next(log for log in logs if (row := reader.row(log)) is not None and row.name == name)

    used, approved = first("UseRecorded"), first("RequestApproved")  # UseRecorded: (action uint8, hash, uint32)
    words = [used["data"][2 + 64 * n : 66 + 64 * n] for n in range(3)]
    for changed in (
        {"topics": used["topics"][:-1]},  # a topic short
        {"data": used["data"] + "00" * 32},  # a word too many
        {"topics": used["topics"][:3] + ["0x" + "ff" * 12 + used["topics"][3][26:]]},  # an address with high bytes
        {"data": "0x" + "00" * 31 + "01" + "00" * 32},  # two words where three belong
        {"data": "0x" + "0" * 60 + "0100" + words[1] + words[2]},  # action 256: no uint8
        {"data": "0x" + words[0] + words[1] + "0" * 54 + "0100000000"},  # sequence 2**32: no uint32
    ):
        assert reader.row({**used, **changed}) is None, changed
    assert reader.row({**used, "data": "0x" + words[0] + words[1] + "0" * 56 + "ffffffff"}) is not None
    # RequestApproved: (reasonHash, pricePerUse uint96, coApprovalRequired bool)
    flag = approved["data"][2 + 128 : 66 + 128]
    assert reader.row({**approved, "data": approved["data"][:130] + "0" * 63 + "2"}) is None
    assert flag in ("0" * 64, "0" * 63 + "1")


def test_logs_kept_from_a_settled_read_give_the_verdicts_a_fresh_read_gives(chain: LocalChain, suite: Suite) -> None:
    owner, holder = suite.departments[0], suite.consumers[0]
    dataset, grant = approved_grant(owner, holder, "verify kept", Action.QUERY)
    owner.usage.record_uses(hashlib.sha256(b"verify kept").digest(),
                            [Use(grant, Action.QUERY, bytes([i]) * 32) for i in range(3)])
    reader, head = ChainSets(owner), owner.w3.eth.block_number
    rows = [event_row(decoded) for log in _logs(chain, suite)
            if (decoded := owner.events.decode(log_from_json(log))) is not None]
    forged = [replace_row(rows[-1], name="UseRefused"), replace_row(rows[-2], log_index=rows[-2].log_index + 7)]

    assert all(r.ok for r in verify_events(owner, rows, reader, head))
    assert len(reader.settled) == len(rows)
    for items in (rows, forged, rows[:3] + forged):
        assert [r.problems for r in verify_events(owner, items, reader, head)] == \
            [r.problems for r in verify_events(owner, items)]
    assert [r.problems for r in verify_events(owner, forged, reader, head)] != [[], []]

    with pytest.raises(ChainMoved):  # the chain found moved under the index: nothing kept is trusted
        reader.items(owner.rpc, Subject.dataset("0x" + dataset.hex()), head, "0x" + "00" * 32)
    assert len(reader.settled) == 0


def replace_row(row: ChainEventRow, **changed: Any) -> ChainEventRow:
    return ChainEventRow(**{c: getattr(row, c) for c in (*ROW_COLUMNS, "id")} | changed)
