"""The node's operator edits its own index so that a trace hides a use: deletes the row, moves it
to another dataset or blames another consumer for it, or deletes it and forges another in its
place. Every item left still matches its own log; ``verify=true`` must still report the trace
incomplete, naming what the chain has that the index lacks and what the index has that the chain
files elsewhere, and ``provledger trace --verify`` must exit 1. Restored, the honest trace verifies."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from api.cli import main
from ledger.clients import Action
from ledger.rpc import RpcBatcher
from node.audit.chainsets import Subject
from node.models import ChainEventRow
from node.service import NodeService
from tests.adversarial.conftest import PASSWORD, USERNAME, Site, approve, create_dataset, page, walk
from tests.api.clients import bearer, relay, request_access, wait_until
from tests.utils.ledgers import Suite


@dataclass
class Story:
    """Two datasets of the node's department: the first with three downloads by the honest
    consumer and a refused attempt by the hostile one, the second with one download by the hostile one."""

    dataset: str
    other: str
    holder: str
    intruder: str

    def path(self, dataset: str | None = None) -> str:
        return f"/audit/datasets/{dataset or self.dataset}/trace"

    def consumer_path(self, address: str) -> str:
        return f"/audit/consumers/{address}/trace"


@pytest.fixture(scope="module")
def story(site: Site, node: NodeService, suite: Suite) -> Story:
    http = site.http
    dataset, other = create_dataset(site, node, "complete-a"), create_dataset(site, node, "complete-b")
    grant = request_access(http, site.honest, suite.consumers[0], dataset, f"complete a {site.tag}", max_uses=5)
    theirs = request_access(http, site.hostile, suite.consumers[1], other, f"complete b {site.tag}", max_uses=5)
    approve(site, grant)
    approve(site, theirs)
    for _ in range(3):
        assert http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest)).status_code == 201
    assert http.post(f"/grants/{theirs}/deliveries", json={}, headers=bearer(site.hostile)).status_code == 201
    attempt = [(bytes.fromhex(grant[2:]), int(Action.ANALYSE), b"\x01" * 32)]
    batch = hashlib.sha256(f"completeness attempt {site.tag}".encode()).digest()
    assert relay(http, site.hostile, suite.accounts[8],
                 suite.consumers[1].usage.contract.functions.recordUses(batch, attempt))["status"] == "success"

    def indexed() -> bool:
        names = [i["name"] for i in walk(site, f"/audit/datasets/{dataset}/trace").items]
        return names.count("UseRecorded") == 3 and "UseRefused" in names and "UseRecorded" in [
            i["name"] for i in walk(site, f"/audit/datasets/{other}/trace").items]

    wait_until(indexed, timeout=120)
    return Story(dataset, other, suite.accounts[7].address, suite.accounts[8].address)


@pytest.fixture()
def index(node: NodeService, story: Story) -> Iterator[None]:
    """The operator's hands on the index; every row is put back as it was after the test."""
    with node.sessions() as session:
        before = {row.id: _columns(row) for row in session.scalars(select(ChainEventRow))}
    yield
    with node.sessions() as session:
        after = {row.id: _columns(row) for row in session.scalars(select(ChainEventRow))}
        session.execute(delete(ChainEventRow).where(ChainEventRow.id.in_(after.keys() - before.keys())))
        for row_id in before.keys() & after.keys():
            if before[row_id] != after[row_id]:
                session.execute(update(ChainEventRow).where(ChainEventRow.id == row_id).values(**before[row_id]))
        gone = [before[row_id] for row_id in before.keys() - after.keys()]
        if gone:
            session.execute(insert(ChainEventRow), gone)
        session.commit()


def _columns(row: ChainEventRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in ChainEventRow.__table__.columns}


def _uses(node: NodeService, dataset: str) -> list[ChainEventRow]:
    with node.sessions() as session:
        return list(session.scalars(select(ChainEventRow).where(ChainEventRow.dataset_id == dataset,
                                                                ChainEventRow.name == "UseRecorded")
                                    .order_by(ChainEventRow.id)))


def _where(row: ChainEventRow) -> str:
    return f"UseRecorded in block {row.block_number} log {row.log_index} (tx {row.tx_hash})"


def _cli(site: Site, dataset: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["trace", dataset, "--verify", "--limit", "3", "--api", site.url, "--user", USERNAME,
                 "--password", PASSWORD, "--no-progress"])
    return code, capsys.readouterr().out


def _dashboard(site: Site, dataset: str) -> str:
    """The auditor's trace page on the dashboard, signed in by a one-time link."""
    link = site.http.post("/dashboard/login-links", headers=bearer(site.auditor))
    assert link.status_code == 201, link.text
    page, secret = link.json()["url"].split("#")
    with httpx.Client(timeout=120) as browser:
        assert browser.post(page, json={"secret": secret}, headers={"Origin": site.url}).status_code == 200
        shown = browser.get(f"{site.url}/dashboard/datasets/{dataset}/trace")
        assert shown.status_code == 200, shown.text
        return shown.text


def _honest(site: Site, story: Story) -> None:
    """Every trace of the story verifies, complete, page by page as on one page."""
    for path in (story.path(), story.path(story.other), story.consumer_path(story.holder),
                 story.consumer_path(story.intruder)):
        for limit in (3, 1000):
            trace = walk(site, path, limit=limit)
            assert trace.ok, (path, trace.failed, trace.problems)
            last = trace.checks[-1]
            assert last["on_chain"] == last["in_index"] == len(trace.items) and last["scope"] == "page", last


def test_a_deleted_index_row_is_reported_missing(site: Site, node: NodeService, story: Story, index: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _honest(site, story)
    assert _cli(site, story.dataset, capsys)[0] == 0

    hidden = _uses(node, story.dataset)[1]
    with node.sessions() as session:
        session.execute(delete(ChainEventRow).where(ChainEventRow.id == hidden.id))
        session.commit()
    missing = f"the chain has {_where(hidden)} that the index lacks"

    # Every item left still matches its log; the first page (which never held the row) says what is missing.
    first = page(site, story.path(), limit=3)
    assert all(i["verification"]["ok"] for i in first["items"]) and hidden.id not in {i["id"] for i in first["items"]}
    complete = first["complete"]
    assert not complete["ok"] and complete["scope"] == "trace" and complete["missing"] == 1, complete
    assert complete["on_chain"] == complete["in_index"] + 1 and missing in complete["problems"], complete
    assert complete["problems"][0].startswith(f"the chain has {complete['on_chain']} events of this dataset")
    mine = walk(site, story.consumer_path(story.holder))
    assert not mine.ok and missing in mine.problems
    code, out = _cli(site, story.dataset, capsys)
    assert code == 1 and "trace INCOMPLETE" in out and missing in out, out
    shown = _dashboard(site, story.dataset)
    assert 'data-complete="false"' in shown and html.escape(missing) in shown

    # Put back, the honest traces verify complete again.
    with node.sessions() as session:
        session.execute(insert(ChainEventRow), [_columns(hidden)])
        session.commit()
    _honest(site, story)
    code, out = _cli(site, story.dataset, capsys)
    assert code == 0 and "trace complete" in out, out
    assert 'data-complete="true"' in _dashboard(site, story.dataset)


def test_a_row_moved_to_another_dataset_is_reported(site: Site, node: NodeService, story: Story,
                                                   index: None) -> None:
    moved = _uses(node, story.dataset)[0]
    with node.sessions() as session:
        session.execute(update(ChainEventRow).where(ChainEventRow.id == moved.id).values(dataset_id=story.other))
        session.commit()

    source = walk(site, story.path(), limit=3)
    assert f"the chain has {_where(moved)} that the index lacks: the index files it (event {moved.id}) under " \
           f"dataset {story.other}" in source.problems, source.problems
    target = walk(site, story.path(story.other), limit=3)
    assert f"the index files {_where(moved)} (event {moved.id}) under dataset {story.other}; the chain files it " \
           f"under dataset {story.dataset}" in target.problems, target.problems
    assert target.checks[-1]["extra"] == 1 and target.checks[-1]["on_chain"] + 1 == target.checks[-1]["in_index"]
    item = next(i for i in target.items if i["id"] == moved.id)
    assert f"column dataset_id is {story.other!r}, the chain says {story.dataset!r}" in item["verification"]["problems"]

    with node.sessions() as session:
        session.execute(update(ChainEventRow).where(ChainEventRow.id == moved.id).values(dataset_id=story.dataset))
        session.commit()
    _honest(site, story)


def test_a_use_moved_to_another_consumer_is_reported(site: Site, node: NodeService, story: Story,
                                                     index: None) -> None:
    blamed = _uses(node, story.dataset)[2]
    with node.sessions() as session:
        session.execute(update(ChainEventRow).where(ChainEventRow.id == blamed.id).values(consumer=story.intruder))
        session.commit()

    # Same count in the dataset: the page holding the row names the column; each consumer's trace the move.
    dataset = walk(site, story.path(), limit=3)
    assert f"event {blamed.id} ({_where(blamed)}): column consumer is {story.intruder!r}, the chain says " \
           f"{story.holder!r}" in dataset.problems, dataset.problems
    assert {c["on_chain"] - c["in_index"] for c in dataset.checks} == {0}
    holder = walk(site, story.consumer_path(story.holder))
    assert f"the chain has {_where(blamed)} that the index lacks: the index files it (event {blamed.id}) under " \
           f"consumer {story.intruder}" in holder.problems, holder.problems
    intruder = walk(site, story.consumer_path(story.intruder))
    assert f"the index files {_where(blamed)} (event {blamed.id}) under consumer {story.intruder}; the chain files " \
           f"it under consumer {story.holder}" in intruder.problems, intruder.problems

    with node.sessions() as session:
        session.execute(update(ChainEventRow).where(ChainEventRow.id == blamed.id).values(consumer=story.holder))
        session.commit()
    _honest(site, story)


def test_a_deleted_row_replaced_by_a_forged_one_is_reported_on_the_page_that_spans_it(
        site: Site, node: NodeService, story: Story, index: None, capsys: pytest.CaptureFixture[str]) -> None:
    hidden = _uses(node, story.dataset)[2]
    forged = {**_columns(hidden), "tx_hash": "0x" + "f0" * 32, "log_index": hidden.log_index + 500}
    with node.sessions() as session:
        session.execute(delete(ChainEventRow).where(ChainEventRow.id == hidden.id))
        session.execute(insert(ChainEventRow), [forged])
        session.commit()

    trace = walk(site, story.path(), limit=3)
    assert {c["on_chain"] - c["in_index"] for c in trace.checks} == {0}  # the counts alone would not tell
    spanning = next(c for c in trace.checks if c["missing"])
    assert f"the chain has {_where(hidden)} that the index lacks" in spanning["problems"], spanning
    assert any(f"UseRecorded in block {hidden.block_number} log {forged['log_index']} (tx {forged['tx_hash']})" in p
               and f"(event {forged['id']})" in p for p in trace.problems), trace.problems
    assert _cli(site, story.dataset, capsys)[0] == 1

    with node.sessions() as session:
        session.execute(delete(ChainEventRow).where(ChainEventRow.id == forged["id"]))
        session.execute(insert(ChainEventRow), [_columns(hidden)])
        session.commit()
    _honest(site, story)


class CountingBatcher(RpcBatcher):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[list[tuple[str, list[Any]]]] = []

    def call(self, calls: Any) -> Any:
        self.sent.append(list(calls))
        return super().call(calls)


def test_repeated_checks_read_the_chain_only_from_where_they_left_off(site: Site, node: NodeService,
                                                                        story: Story) -> None:
    url = node.ledger.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    for subject in (Subject.dataset(story.dataset), Subject.consumer(story.holder)):
        first = node.traces.check(subject)
        assert first.ok and first.on_chain == first.in_index > 0, first
        rpc = CountingBatcher(url)
        again = node.traces.check(subject, rpc=rpc)
        assert again.ok and again.on_chain == first.on_chain + (again.in_index - first.in_index)
        reads = [params[0] for batch in rpc.sent for method, params in batch if method == "eth_getLogs"]
        assert all(int(r["fromBlock"], 16) > first.block_number for r in reads), reads
        if again.block_number == first.block_number:
            assert [[m for m, _ in batch] for batch in rpc.sent] == [["eth_getBlockByNumber"]]
