"""Content roots of files and directories, streamed in chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ledger.hashing import content_root, directory_item, hash_file
from tests.utils import merkle_reference as ref


def test_file_root_is_the_merkle_root_over_chunk_digests(tmp_path: Path) -> None:
    data = bytes(range(256)) * 41  # 10,496 bytes: two full 4 KiB chunks and a partial one
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    file = hash_file(path, chunk_size=4096)
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert file.chunk_digests == tuple(hashlib.sha256(c).digest() for c in chunks)
    assert file.root == ref.root(list(file.chunk_digests))
    assert file.size == len(data)


def test_exact_multiple_of_the_chunk_size_has_no_empty_trailing_chunk(tmp_path: Path) -> None:
    path = tmp_path / "exact.bin"
    path.write_bytes(b"x" * 8192)
    assert len(hash_file(path, chunk_size=4096).chunk_digests) == 2


def test_empty_file_has_one_empty_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(path).chunk_digests == (hashlib.sha256(b"").digest(),)


def test_one_changed_byte_changes_one_chunk_and_the_root(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"a" * 20000)
    before = hash_file(path, chunk_size=4096)
    with open(path, "r+b") as f:
        f.seek(9000)
        f.write(b"b")
    after = hash_file(path, chunk_size=4096)
    changed = [i for i, (x, y) in enumerate(zip(before.chunk_digests, after.chunk_digests)) if x != y]
    assert changed == [2]
    assert before.root != after.root


def test_directory_root_covers_paths_and_contents_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.csv").write_text("x,y\n1,2\n")
    (tmp_path / "a.csv").write_text("name\nli\n")
    root = content_root(tmp_path)
    assert [f.path for f in root.files] == ["a.csv", "b/two.csv"]
    assert root.root == ref.root([directory_item(f) for f in root.files])
    assert root.size == sum(f.size for f in root.files)
    (tmp_path / "b" / "two.csv").rename(tmp_path / "b" / "three.csv")
    assert content_root(tmp_path).root != root.root


def test_observer_sees_every_byte_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    data = bytes(range(256)) * 40
    path.write_bytes(data)
    seen: list[bytes] = []
    content_root(path, chunk_size=4096, observe=lambda chunk: seen.append(bytes(chunk)))
    assert b"".join(seen) == data


def test_missing_path_and_empty_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        content_root(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no files"):
        content_root(tmp_path)
