"""A node's data at rest (issue 20): a local user who reads the owner's data folder learns no
personal data from it, and one who edits it cannot make the node serve what it did not keep: a
frame spliced in from another file, a file taken from another node, a delivered copy put in
another's place are all refused as tampered (409), never served."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from api.cli import Refused
from node.store import PLAIN
from tests.adversarial.conftest import COORDINATOR_NODE, OWNER, World, people
from tests.adversarial.test_delivery import _node_row, _source_of

HEADER = 4 + 1 + 16 + 4 + 4
"""A stored file's header (node.store): magic, version, salt, nonce prefix, chunk size."""


def _refused_as_tampered(call: object) -> None:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    assert (caught.value.status_code, caught.value.code) == (409, "source_tampered"), caught.value


def _download(api: object, delivery: dict[str, object]) -> bytes:
    out = io.BytesIO()
    api.download(delivery["download"], out, total=None, desc="")  # type: ignore[attr-defined]
    return out.getvalue()


def test_a_local_user_reading_the_data_folder_learns_nothing(world: World) -> None:
    rows = people(6)
    dataset = world.publish(rows)
    api, grant = world.granted(world.honest_consumer, dataset, fields=("name", "phone", "visits"))
    copy = _download(api, api.call("POST", f"/grants/{grant}/deliveries", json={}))
    assert rows[2]["name"].encode() in copy and rows[2]["phone"].encode() in copy  # granted: in the clear for it
    data_dir = world.deployment.department(OWNER).data_dir
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any("deliveries" in p.parts for p in files) and any("datasets" in p.parts for p in files)
    held = {p: p.read_bytes() for p in files}
    secrets = {row[field].encode() for row in rows for field in ("name", "id_number", "phone")}
    assert not {(str(p), v.decode()) for p, data in held.items() for v in secrets if v in data}
    # Without the data key (it lies there, wrapped under the keystore's passphrase) nothing opens.
    with pytest.raises(ValueError, match="no data key"):
        PLAIN.sha256(_source_of(world, dataset))


def test_a_spliced_frame_or_a_file_of_another_node_is_refused_as_tampered(world: World) -> None:
    rows = people(4)
    dataset, twin = world.publish(rows), world.publish(rows)
    foreign = world.publish(rows, owner=COORDINATOR_NODE)  # the same bytes, kept under another node's key
    api, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    source = _source_of(world, dataset)
    original = source.read_bytes()
    forgeries = {
        "a frame of the owner's other file": original[:HEADER] + _source_of(world, twin).read_bytes()[HEADER:],
        "the other node's file": _source_of(world, foreign, COORDINATOR_NODE).read_bytes(),
    }
    try:
        for blob in forgeries.values():
            source.write_bytes(blob)
            _refused_as_tampered(lambda: api.call("POST", f"/grants/{grant}/deliveries", json={}))
    finally:
        source.write_bytes(original)
    api.call("POST", f"/grants/{grant}/deliveries", json={})


def test_a_delivered_copy_put_in_place_of_another_is_refused_as_tampered(world: World) -> None:
    dataset = world.publish(people(4))
    api, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    first, second = (api.call("POST", f"/grants/{grant}/deliveries", json={}) for _ in range(2))
    paths = [Path(_node_row(world, OWNER, "select path from deliveries where delivery_id = :d", d=str(d["delivery_id"])))
             for d in (first, second)]
    kept = paths[1].read_bytes()
    shutil.copyfile(paths[0], paths[1])  # authenticates under the node's key, but is not the receipt's copy
    try:
        _refused_as_tampered(lambda: _download(api, second))
    finally:
        paths[1].write_bytes(kept)
    assert _download(api, second) != _download(api, first)
