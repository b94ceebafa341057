"""Content roots of files and directories, hashed in streaming chunks with constant memory.

A file is cut into fixed-size chunks; each chunk's SHA-256 digest is one Merkle item, and
the file's content root is the root over those items (see :mod:`ledger.merkle`). A directory's
items are ``sha256(relative_path || 0x00 || file_root)`` for each file in path order, so that a
renamed, added or removed file changes the root as surely as a changed byte.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ledger.merkle import MerkleTree

DEFAULT_CHUNK_SIZE = 1 << 20

Observer = Callable[[memoryview], None]
"""Sees each chunk just hashed (to count records, or move a progress bar by its length)."""


@dataclass(frozen=True)
class FileRoot:
    """A file's content root and the digest of each of its chunks."""

    path: str
    size: int
    chunk_size: int
    chunk_digests: tuple[bytes, ...]
    root: bytes


@dataclass(frozen=True)
class ContentRoot:
    """The root of a file or a directory, with the roots of the files under it."""

    root: bytes
    size: int
    files: tuple[FileRoot, ...]


def chunk_digests(path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, observe: Observer | None = None) -> Iterator[bytes]:
    """The SHA-256 digest of each chunk of ``path``; an empty file has one empty chunk."""
    with open(path, "rb", buffering=0) as f:
        yield from stream_digests(f, chunk_size, observe)


def stream_digests(src: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE,
                   observe: Observer | None = None) -> Iterator[bytes]:
    """The SHA-256 digest of each chunk read from ``src`` (anything with ``readinto``: a file,
    or a stream decrypting one); nothing read has one empty chunk."""
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    sha256 = hashlib.sha256
    emitted = False
    while True:
        filled = 0
        while filled < chunk_size:
            n = src.readinto(view[filled:])  # type: ignore[attr-defined]
            if not n:
                break
            filled += n
        if filled == 0 and emitted:
            return
        yield sha256(view[:filled]).digest()
        emitted = True
        if observe is not None:
            observe(view[:filled])
        if filled < chunk_size:
            return


def hash_stream(src: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE, name: str = "",
                observe: Observer | None = None) -> FileRoot:
    """The content root of one file's bytes read from ``src``: the same as :func:`hash_file`
    gives for a file holding them."""
    size = 0

    def count(chunk: memoryview) -> None:
        nonlocal size
        size += len(chunk)
        if observe is not None:
            observe(chunk)

    digests = tuple(stream_digests(src, chunk_size, count))
    return FileRoot(path=name, size=size, chunk_size=chunk_size, chunk_digests=digests,
                    root=MerkleTree.from_items(digests).root)


def hash_file(
    path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, name: str | None = None, observe: Observer | None = None
) -> FileRoot:
    """The content root of one file."""
    digests = tuple(chunk_digests(path, chunk_size, observe))
    return FileRoot(
        path=name if name is not None else Path(path).name,
        size=os.path.getsize(path),
        chunk_size=chunk_size,
        chunk_digests=digests,
        root=MerkleTree.from_items(digests).root,
    )


def directory_item(file: FileRoot) -> bytes:
    """The Merkle item standing for ``file`` inside a directory."""
    return hashlib.sha256(file.path.encode() + b"\x00" + file.root).digest()


def _files_under(directory: Path) -> list[Path]:
    paths = [p for p in directory.rglob("*") if p.is_file()]
    return sorted(paths, key=lambda p: p.relative_to(directory).as_posix())


Opener = Callable[[Path], BinaryIO]
"""Opens a file for hashing: e.g. one that reads a file kept encrypted as its plaintext."""


def content_root(path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, observe: Observer | None = None,
                 opener: Opener | None = None) -> ContentRoot:
    """The content root of a file, or of every file under a directory (each read through
    ``opener`` when given: the root is over what it reads)."""
    path = Path(path)

    def one(file: Path, name: str | None = None) -> FileRoot:
        if opener is None:
            return hash_file(file, chunk_size, name=name, observe=observe)
        with opener(file) as src:
            return hash_stream(src, chunk_size, name=file.name if name is None else name, observe=observe)

    if path.is_file():
        file = one(path)
        return ContentRoot(root=file.root, size=file.size, files=(file,))
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a file nor a directory")
    files = tuple(one(p, p.relative_to(path).as_posix()) for p in _files_under(path))
    if not files:
        raise ValueError(f"directory {path} holds no files")
    root = MerkleTree.from_items(directory_item(f) for f in files).root
    return ContentRoot(root=root, size=sum(f.size for f in files), files=files)


def delivery_evidence(delivery_id: bytes, delivered_sha256: bytes) -> bytes:
    """A delivery's evidence hash, recorded on chain as its use: over the delivery's own random
    id and the SHA-256 of exactly the bytes delivered, so no two deliveries share one even when
    their bytes are alike, and the receiver checks what it got against the chain."""
    return hashlib.sha256(b"provledger delivery/" + delivery_id + delivered_sha256).digest()
