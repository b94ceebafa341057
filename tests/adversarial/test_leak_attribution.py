"""A consumer leaks its delivery and tries to make it no one's, or someone else's (issue 16,
item 6). Over the node's real HTTP API, the auditor asks whose a copy is: ordinary handling (a
spreadsheet's re-save in GBK) still names the delivery and its consumer; the hostile consumer's
tricks leave a copy that names no one, and says so, or still names it: never another delivery."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from node.access.delivery.fingerprint import WIDE_MASK, plain_masks
from node.access.delivery.retention import sweep
from node.fields import MASK
from node.models import Delivery
from node.service import NodeService
from tests.adversarial.conftest import CLASSES, Site, approve, create_dataset, people
from tests.api.clients import bearer, request_access
from tests.utils.ledgers import Suite


def _csv(rows: list[list[str]], **options: Any) -> bytes:
    text = io.StringIO(newline="")
    csv.writer(text, **options).writerows(rows)
    return text.getvalue().encode()


def _rows(copy: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(copy.decode(), newline="")))


def _glyphs(copy: bytes, pick: Callable[[str], str]) -> bytes:
    """The copy with each mask character replaced by ``pick(character)``, re-written by :mod:`csv`."""
    return _csv([["".join(pick(c) if c in (MASK, WIDE_MASK) else c for c in v) for v in row] for row in _rows(copy)])


def _spreadsheet(copy: bytes) -> bytes:
    """A spreadsheet's re-save on a Chinese desktop: trimmed, quotes only where needed, GBK."""
    return _csv([[v.strip() for v in row] for row in _rows(copy)], lineterminator="\r\n").decode().encode("gbk")


@pytest.fixture(scope="module")
def leak(site: Site, node: NodeService, suite: Suite) -> dict[str, Any]:
    """One dataset; the hostile consumer's grant delivered three times, the honest one's once."""
    rows = people(150)
    content = _csv([list(rows[0]), *[list(r.values()) for r in rows]], lineterminator="\n")
    dataset_id = create_dataset(site, node, "leaks", content=content, field_classes=CLASSES)
    copies: dict[str, tuple[str, bytes]] = {}
    for who, token, ledger, times in (("hostile", site.hostile, suite.consumers[1], 3),
                                      ("honest", site.honest, suite.consumers[0], 1)):
        grant = request_access(site.http, token, ledger, dataset_id, f"leaks {who} {site.tag}")
        approve(site, grant)
        for n in range(times):
            made = site.http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(token))
            assert made.status_code == 201, made.text
            copy = site.http.get(made.json()["download"], headers=bearer(token))
            assert copy.status_code == 200 and plain_masks(copy.text) != copy.text
            copies[f"{who} {n}"] = made.json()["delivery_id"], copy.content
    return {"dataset_id": dataset_id, "copies": copies}


def _attribute(site: Site, leak: dict[str, Any], copy: bytes) -> dict[str, Any]:
    found = site.http.post("/audit/attributions", params={"dataset_id": leak["dataset_id"], "format": "csv"},
                           content=copy, headers={**bearer(site.auditor), "Content-Type": "text/csv"})
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


def test_each_delivery_re_saved_by_a_spreadsheet_in_gbk_names_itself_and_its_consumer(
        site: Site, leak: dict[str, Any], suite: Suite) -> None:
    consumers = {"hostile": suite.accounts[8].address, "honest": suite.accounts[7].address}
    for name, (delivery_id, copy) in leak["copies"].items():
        for handled in (copy, _spreadsheet(copy)):
            found = _attribute(site, leak, handled)
            assert found["confident"] and found["reason"] is None, (name, found["reason"], found["bits"])
            assert found["delivery_id"] == delivery_id and found["consumer"] == consumers[name.split()[0]]
            assert found["dataset_id"] == leak["dataset_id"] and found["matching"] == found["bits"] >= 32
            assert [s["delivery_id"] for s in found["beyond_chance"]] == [delivery_id]


def test_every_glyph_made_plain_and_the_copy_re_quoted_names_no_one_and_says_so(
        site: Site, leak: dict[str, Any]) -> None:
    found = _attribute(site, leak, _glyphs(leak["copies"]["hostile 1"][1], lambda c: MASK))
    assert not found["confident"] and found["delivery_id"] is None and found["consumer"] is None
    assert found["bits"] == 0 and found["beyond_chance"] == []
    assert found["reason"] == "the copy carries 0 readable fingerprint bits; 32 are needed"


def test_glyphs_made_plain_but_the_quoting_kept_still_names_the_delivery(site: Site, leak: dict[str, Any]) -> None:
    delivery_id, copy = leak["copies"]["hostile 1"]
    found = _attribute(site, leak, plain_masks(copy.decode()).encode())
    assert found["confident"] and found["delivery_id"] == delivery_id, found


@pytest.mark.parametrize("trick", ["random glyphs", "every glyph swapped"])
def test_glyphs_scrambled_name_no_one_never_another_delivery(site: Site, leak: dict[str, Any], trick: str) -> None:
    rng = random.Random(5)
    pick: Callable[[str], str] = ((lambda c: rng.choice((MASK, WIDE_MASK))) if trick == "random glyphs"
                                  else (lambda c: WIDE_MASK if c == MASK else MASK))
    found = _attribute(site, leak, _glyphs(leak["copies"]["hostile 2"][1], pick))
    assert not found["confident"] and found["delivery_id"] is None and found["beyond_chance"] == []
    assert found["bits"] > 500 and "which chance explains" in found["reason"], found


def test_a_copy_mixed_from_two_consumers_deliveries_names_neither_and_lists_both(
        site: Site, leak: dict[str, Any], suite: Suite) -> None:
    (first, a), (second, b) = leak["copies"]["hostile 0"], leak["copies"]["honest 0"]
    mixed = b"".join(a.splitlines(keepends=True)[:75] + b.splitlines(keepends=True)[75:])
    found = _attribute(site, leak, mixed)
    assert not found["confident"] and found["delivery_id"] is None and "mixed" in found["reason"]
    assert {(s["delivery_id"], s["consumer"]) for s in found["beyond_chance"]} == {
        (first, suite.accounts[8].address), (second, suite.accounts[7].address)}


def test_copies_past_their_retention_leave_the_disk_and_their_leaks_still_name_them(
        site: Site, node: NodeService, leak: dict[str, Any], suite: Suite) -> None:
    """Last in this module: it removes the module's delivered copies (issue 20, retention)."""
    grant = request_access(site.http, site.honest, suite.consumers[0], leak["dataset_id"], f"retention {site.tag}")
    approve(site, grant)
    kept = site.http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest)).json()
    with node.sessions() as session:
        rows = {d: session.get(Delivery, d) for d, _ in leak["copies"].values()}
        assert all(r is not None and r.downloaded_at is not None and r.removed_at is None for r in rows.values())
        downloaded = [r.downloaded_at for r in rows.values() if r is not None and r.downloaded_at is not None]
        earliest, latest = min(downloaded), max(downloaded)
        grace = node.settings.delivery_keep_after_download
        # Within the grace of the first download, nothing goes (the copies were downloaded over some seconds).
        assert sweep(session, keep_after_download=grace, keep_undownloaded=node.settings.delivery_keep_undownloaded,
                     now=earliest + timedelta(seconds=grace - 1)) == 0
        removed = sweep(session, keep_after_download=grace, keep_undownloaded=node.settings.delivery_keep_undownloaded,
                        now=latest + timedelta(seconds=grace + 1))
        assert removed == len(rows)  # the undownloaded copy stays
        for r in rows.values():
            session.refresh(r)
            assert r is not None and r.removed_at is not None and not Path(r.path).exists()
            assert r.evidence_hash and r.size > 0 and r.fingerprint_key_id
        undownloaded = session.get(Delivery, kept["delivery_id"])
        assert undownloaded is not None and Path(undownloaded.path).exists() and undownloaded.removed_at is None
        assert sweep(session, keep_after_download=grace, keep_undownloaded=1.0,
                     now=undownloaded.created_at + timedelta(seconds=2)) == 1
        assert not Path(undownloaded.path).exists()
    token = {"hostile": site.hostile, "honest": site.honest}
    for name, (delivery_id, copy) in leak["copies"].items():
        again = site.http.get(f"/deliveries/{delivery_id}/content", headers=bearer(token[name.split()[0]]))
        assert again.status_code == 410 and again.json()["error"]["code"] == "gone", again.text
        assert "retention" in again.json()["error"]["message"]
        found = _attribute(site, leak, copy)
        assert found["confident"] and found["delivery_id"] == delivery_id, (name, found)
    # What was recorded on chain and anchored for each copy is unchanged: the trace still lists them.
    trace = site.http.get(f"/audit/datasets/{leak['dataset_id']}/trace", params={"limit": 100},
                          headers=bearer(site.auditor))
    assert trace.status_code == 200, trace.text
    # A copy whose file is missing (a node restored from a backup taken while it was removed) is gone too, not a 500.
    lost = site.http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(site.honest)).json()
    with node.sessions() as session:
        row = session.get(Delivery, lost["delivery_id"])
        assert row is not None
        Path(row.path).unlink()
    missing = site.http.get(lost["download"], headers=bearer(site.honest))
    assert missing.status_code == 410 and "no longer on this node's disk" in missing.json()["error"]["message"]
