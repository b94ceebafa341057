"""The node's store: every dataset version and delivered copy it keeps is encrypted at rest.

One home for "store this plaintext stream" (:meth:`DataStore.create`) and "open this stored
file as plaintext" (:meth:`DataStore.open`). A stored file is sealed under a key of its own,
derived (HKDF-SHA256) from the node's data key (:mod:`node.datakey`) and a random salt in its
header, in the authenticated frames of :mod:`node.frames`, so it is written and read in
constant memory, and a frame changed, moved, cut, or a file encrypted by another node, fails to
authenticate: the reader raises :class:`DecryptionFailed`, which callers report as tampered.
Integers are big-endian::

    header  magic "PLDS" | version (1 byte) | salt (16 bytes) | nonce prefix (4 bytes) | chunk size (4 bytes)
    frames  as :mod:`node.frames` lays them out, the header bound into each

Content roots stay over the plaintext (:meth:`DataStore.root_of`), so what is anchored on chain
does not depend on the key. A file without the magic is read as it is: versions registered
from a path outside the store (tests, tools) and files kept before the store encrypted; their
anchored root still guards them.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.hashing import DEFAULT_CHUNK_SIZE, ContentRoot, Observer, content_root
from node.errors import DecryptionFailed
from node.frames import MAX_CHUNK_SIZE, FrameWriter, open_frames, read_up_to

MAGIC = b"PLDS"
VERSION = 1
_HEADER = struct.Struct(">4sB16s4sI")
_INFO = b"provledger store v1"
_WHAT = "a stored file"


class _Plaintext(io.RawIOBase):
    """The plaintext of a stored file, read frame by frame as it authenticates."""

    def __init__(self, file: BinaryIO, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._file, self._chunks = file, chunks
        self._chunk, self._at = memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._at == len(self._chunk):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._chunk, self._at = memoryview(chunk), 0
        n = min(len(buffer), len(self._chunk) - self._at)
        buffer[:n] = self._chunk[self._at:self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class Writer(Protocol):
    """What :meth:`DataStore.create` yields: it takes the plaintext and counts it."""

    size: int

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def close(self) -> None: ...


class _Clear:
    """Writes as it is, for a store without a key."""

    def __init__(self, dst: BinaryIO) -> None:
        self._dst, self.size = dst, 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.size += self._dst.write(data)
        return len(data)

    def close(self) -> None:
        pass


class DataStore:
    """Writes and reads the node's kept files under its data key; ``key=None`` reads only
    files kept in clear (a tool without the key)."""

    def __init__(self, key: bytes | None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._key = key
        self.chunk_size = chunk_size

    def _cipher(self, salt: bytes) -> AESGCM:
        if self._key is None:
            raise DecryptionFailed("this reader holds no data key", _WHAT)
        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(self._key))

    @contextmanager
    def create(self, path: Path) -> Iterator[Writer]:
        """A new file at ``path`` that what is written to the yielded writer goes into, encrypted
        (in clear by a store without a key: tests and tools); complete (final frame sealed,
        synced) when the block ends, removed if it raises."""
        salt, prefix = os.urandom(16), os.urandom(4)
        header = _HEADER.pack(MAGIC, VERSION, salt, prefix, self.chunk_size)
        try:
            with open(path, "xb") as dst:
                writer: Writer
                if self._key is None:
                    writer = _Clear(dst)
                else:
                    dst.write(header)
                    writer = FrameWriter(self._cipher(salt), prefix, header, dst, self.chunk_size)
                yield writer
                writer.close()
                dst.flush()
                os.fsync(dst.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def store(self, src: BinaryIO, path: Path) -> int:
        """Encrypt all of ``src`` into a new file at ``path``; returns the plaintext's size."""
        with self.create(path) as dst:
            while chunk := src.read(self.chunk_size):
                dst.write(chunk)
        return dst.size

    def open(self, path: Path) -> BinaryIO:
        """The plaintext of the file at ``path``; reading raises :class:`DecryptionFailed` at the
        first frame that does not authenticate (opening, if the header is wrong)."""
        file = open(path, "rb")
        try:
            header = read_up_to(file, _HEADER.size)
            if header[:4] != MAGIC:
                file.seek(0)
                return file
            if len(header) < _HEADER.size:
                raise DecryptionFailed("the header is cut short", _WHAT)
            _, version, salt, prefix, chunk_size = _HEADER.unpack(header)
            if version != VERSION:
                raise DecryptionFailed(f"format version {version} is unknown", _WHAT)
            if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
                raise DecryptionFailed(f"chunk size {chunk_size} is out of range", _WHAT)
            chunks = open_frames(file, self._cipher(salt), prefix, header, chunk_size, _WHAT)
            return io.BufferedReader(_Plaintext(file, chunks), buffer_size=chunk_size)
        except BaseException:
            file.close()
            raise

    def root_of(self, path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE, observe: Observer | None = None) -> ContentRoot:
        """The content root of the plaintext of the stored file (or folder of files) at ``path``."""
        return content_root(path, chunk_size, observe=observe, opener=self.open)

    def sha256(self, path: Path) -> tuple[bytes, int]:
        """The SHA-256 and size of the file's plaintext, read through: every frame authenticates."""
        digest, size = hashlib.sha256(), 0
        with self.open(path) as f:
            while chunk := f.read(self.chunk_size):
                digest.update(chunk)
                size += len(chunk)
        return digest.digest(), size


PLAIN = DataStore(None)
"""Reads and writes files in clear, and refuses encrypted ones: for tests and tools, never a node."""


def is_encrypted(path: Path) -> bool:
    """Whether the file at ``path`` is kept encrypted by a store."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


KEPT = ("datasets", "deliveries")
"""The folders of a node's data folder that hold what its store keeps."""


def _kept_files(data_dir: Path) -> Iterator[Path]:
    for folder in KEPT:
        yield from (p for p in sorted((data_dir / folder).rglob("*")) if p.is_file() and not p.name.startswith("."))


def first_encrypted(data_dir: Path) -> Path | None:
    """A file of the data folder kept encrypted, if there is one: its key must not be made anew."""
    return next((p for p in _kept_files(data_dir) if is_encrypted(p)), None)


def seal_clear_files(store: DataStore, data_dir: Path) -> int:
    """Encrypt in place what an earlier version of the node kept in clear; returns how many.

    Each file is written encrypted beside itself and renamed over it, so a reader holding the
    old file reads it whole, and a crash leaves one or the other; the plaintext, and so the
    content root, does not change."""
    sealed = 0
    for path in _kept_files(data_dir):
        if is_encrypted(path):
            continue
        staging = path.with_name(f".sealing-{path.name}")
        staging.unlink(missing_ok=True)
        with open(path, "rb") as src:
            store.store(src, staging)
        os.replace(staging, path)
        sealed += 1
    return sealed
