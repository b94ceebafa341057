"""Authenticated frames: a stream of any size sealed with AES-256-GCM in chunks, in constant memory.

The layout is that of the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár), which both
encrypted formats of a node share: a delivery encrypted to its consumer
(:mod:`node.access.delivery.crypto`) and a file kept in the node's store (:mod:`node.store`).
Each format writes its own header first; this module seals what follows::

    frame   final flag (1 byte: 1 on the last frame, else 0) | length (4 bytes) | ciphertext

Chunk ``i`` is sealed under the nonce ``prefix || i`` (``i`` in 8 bytes, big-endian) with the
whole header, ``i`` and the final flag as associated data. Every frame but the last holds a full
chunk, and an empty stream is one final frame with an empty chunk, so a stream cut anywhere
lacks its final frame, and a frame moved, swapped or taken from another stream fails to
authenticate as surely as a changed byte.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from node.errors import DecryptionFailed, InvalidInput

MAX_CHUNK_SIZE = 1 << 26
"""The largest chunk a reader buffers, so that a forged header cannot make it hold more."""

FRAME = struct.Struct(">BI")
TAG_SIZE = 16


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(8, "big")


def _associated(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, final)


def require_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidInput("chunk_size", f"{chunk_size} is not from 1 to {MAX_CHUNK_SIZE}")


def read_up_to(src: BinaryIO, size: int) -> bytes:
    """``size`` bytes of ``src``, fewer only at its end: pipes and sockets return short reads."""
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


class FrameWriter:
    """Seals what is written to it into frames on ``dst``, after the caller wrote ``header``.

    A full chunk is held back until more bytes come, since only then is it known not to be the
    last; :meth:`close` seals the final frame (an empty one if nothing was written).
    """

    def __init__(self, cipher: AESGCM, prefix: bytes, header: bytes, dst: BinaryIO, chunk_size: int) -> None:
        require_chunk_size(chunk_size)
        self._cipher, self._prefix, self._header, self._dst = cipher, prefix, header, dst
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self._index = 0
        self.size = 0
        """The plaintext bytes written so far."""
        self.closed = False

    def _seal(self, chunk: bytes | bytearray | memoryview, final: bool) -> None:
        sealed = self._cipher.encrypt(_nonce(self._prefix, self._index), bytes(chunk),
                                      _associated(self._header, self._index, final))
        self._dst.write(FRAME.pack(final, len(sealed)))
        self._dst.write(sealed)
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed frame writer")
        self._pending += data
        size = self._chunk_size
        if len(self._pending) > size:
            view = memoryview(self._pending)
            start = 0
            # A full chunk is sealed only while more bytes follow it: the last one may be final.
            while len(self._pending) - start > size:
                self._seal(view[start:start + size], False)
                start += size
            view.release()
            del self._pending[:start]
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        """Seal the final frame; writing after it is an error."""
        if not self.closed:
            self._seal(self._pending, True)
            self._pending = bytearray()
            self.closed = True


def open_frames(src: BinaryIO, cipher: AESGCM, prefix: bytes, header: bytes, chunk_size: int,
                what: str = "the delivery") -> Iterator[bytes]:
    """The chunks of the frames on ``src`` (read past ``header``), each as soon as it authenticates.

    :class:`DecryptionFailed` at the first frame that does not, or when the stream ends before
    its final frame or goes on after it (naming ``what`` was read): what came before is genuine
    but incomplete.
    """
    for index in itertools.count():
        frame = read_up_to(src, FRAME.size)
        if len(frame) < FRAME.size:
            raise DecryptionFailed("the stream ends before its final frame", what)
        final, length = FRAME.unpack(frame)
        if final not in (0, 1) or not TAG_SIZE <= length <= chunk_size + TAG_SIZE:
            raise DecryptionFailed(f"frame {index} has a malformed header", what)
        sealed = read_up_to(src, length)
        if len(sealed) < length:
            raise DecryptionFailed(f"frame {index} is cut short", what)
        try:
            chunk = cipher.decrypt(_nonce(prefix, index), sealed, _associated(header, index, bool(final)))
        except InvalidTag as err:
            raise DecryptionFailed(f"frame {index} does not authenticate: wrong key, or data changed, moved or cut", what) from err
        if final:
            if src.read(1):
                raise DecryptionFailed("data follows the final frame", what)
            yield chunk
            return
        yield chunk
