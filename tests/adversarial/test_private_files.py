"""Another user of the node's machine reads nothing the node wrote (issue 20).

A node's folder holds every uploaded version in clear, every delivered copy, its database and
keys. A local user who is not the node's would read them if any file or folder let group or
others in, even for a moment: the node's umask keeps every file 0600 and every folder 0700 from
creation, and a start closes what an earlier, laxer run left open.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from node.private import make_private, open_to_others
from tests.adversarial.conftest import OWNER, World, people


def _modes(paths: list[Path]) -> list[str]:
    return [f"{p} {stat.filemode(p.lstat().st_mode)}" for p in paths]


def test_nothing_a_node_wrote_is_open_to_another_local_user(world: World) -> None:
    dataset = world.publish(people(5))
    world.add_version(dataset, people(6))
    api, grant = world.granted(world.honest_consumer, dataset, fields=("visits",), uses=3)
    made = api.call("POST", f"/grants/{grant}/deliveries", json={})
    api.download(made["download"], io.BytesIO(), total=None, desc="")
    deployment = world.deployment
    data = deployment.department(OWNER).data_dir
    written = {p.name for p in data.rglob("*")}
    assert "node.db" in written and "fingerprint.key" in written, written
    assert any(p.is_file() for p in (data / "datasets").rglob("*")) and any((data / "deliveries").iterdir())
    for folder in [deployment.work_dir / "keys", *(d.data_dir for d in deployment.departments)]:
        assert open_to_others(folder) == [], _modes(open_to_others(folder))
    assert stat.S_IMODE(deployment.passphrase_path.stat().st_mode) == 0o600


def test_a_start_closes_what_an_earlier_run_left_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "datasets" / "0xabc").mkdir(parents=True)
    for folder in (data, data / "datasets", data / "datasets" / "0xabc"):
        folder.chmod(0o755)
    source = data / "datasets" / "0xabc" / "v1.csv"
    source.write_text("身份证号\n11010519491231002X\n")
    source.chmod(0o644)
    (data / "node.db").write_bytes(b"")
    (data / "node.db").chmod(0o666)
    outside = tmp_path / "shared.txt"
    outside.write_text("not the node's")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    assert len(open_to_others(data)) == 5
    make_private(data)
    assert open_to_others(data) == []
    assert stat.S_IMODE(source.stat().st_mode) == 0o600 and stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link's target is not the node's to change


def test_files_made_after_the_start_are_private_from_creation(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        make_private(tmp_path / "data")
        fd = os.open(tmp_path / "data" / "fresh", os.O_WRONLY | os.O_CREAT, 0o666)
        os.close(fd)
        (tmp_path / "data" / "sub").mkdir()
        assert stat.S_IMODE((tmp_path / "data" / "fresh").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data" / "sub").stat().st_mode) == 0o700
    finally:
        os.umask(previous)
