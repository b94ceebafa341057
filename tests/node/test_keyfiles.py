"""The node's secret key files: one key for every process that starts at once, readable only by
the node, and a file of the wrong size refused rather than used."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from node.errors import InvalidInput
from node.keyfiles import secret_file


def test_a_key_is_made_once_readable_only_by_the_node_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "session.key"
    key = secret_file(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert secret_file(path) == key
    assert secret_file(tmp_path / "other.key") != key
    assert [p.name for p in path.parent.iterdir()] == ["session.key"]  # no staging file left behind


def test_threads_racing_to_make_the_key_all_get_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "fingerprint.key"
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def make() -> None:
        start.wait(timeout=10)
        keys.append(secret_file(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(keys) == 8 and set(keys) == {path.read_bytes()}


def test_processes_racing_to_make_the_key_all_get_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "session.key"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        keys = pool.map(secret_file, [path] * 4)
    assert set(keys) == {path.read_bytes()}


@pytest.mark.parametrize("content", [b"", b"\x01" * 31, b"\x01" * 33])
def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "session.key"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match="must hold 32 bytes"):
        secret_file(path)
    assert path.read_bytes() == content


def test_a_key_of_another_size_can_be_asked_for(tmp_path: Path) -> None:
    assert len(secret_file(tmp_path / "wide.key", size=64)) == 64
