"""Deliveries encrypted to a consumer's secp256k1 key: round trips, and every way a stream can break."""

from __future__ import annotations

import io
import os
import struct

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from node.access.delivery.crypto import decrypt_stream, encrypt_stream, public_key_of
from node.errors import DecryptionFailed, InvalidInput

# The documented format, read naively: a fixed header, then flag | length | ciphertext frames.
HEADER_SIZE = 4 + 1 + 65 + 4 + 4
FRAME = struct.Struct(">BI")

PRIVATE = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PUBLIC = public_key_of(PRIVATE)


def _encrypt(data: bytes, public_key: bytes = PUBLIC, chunk_size: int = 16) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, public_key, chunk_size=chunk_size)
    return out.getvalue()


def _decrypt(blob: bytes, private_key: bytes = PRIVATE) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, private_key)
    return out.getvalue()


def _split(blob: bytes) -> tuple[bytes, list[bytes]]:
    """The header and the whole frames of an encrypted delivery."""
    header, rest, frames = blob[:HEADER_SIZE], blob[HEADER_SIZE:], []
    while rest:
        _, length = FRAME.unpack_from(rest)
        frames.append(rest[: FRAME.size + length])
        rest = rest[FRAME.size + length :]
    return header, frames


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100, 160])
def test_round_trip_of_empty_small_and_multi_chunk_deliveries(size: int) -> None:
    data = os.urandom(size)
    blob = _encrypt(data)
    assert _decrypt(blob) == data
    _, frames = _split(blob)
    assert len(frames) == max(1, -(-size // 16))
    assert [f[0] for f in frames] == [0] * (len(frames) - 1) + [1]


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=300))
def test_round_trip_for_any_data_and_chunk_size(data: bytes, chunk_size: int) -> None:
    assert _decrypt(_encrypt(data, chunk_size=chunk_size)) == data


def test_default_chunk_size_round_trips_a_few_mebibytes() -> None:
    data = os.urandom(3 * (1 << 20) + 5)
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, PUBLIC)
    assert len(_split(out.getvalue())[1]) == 4
    assert _decrypt(out.getvalue()) == data


def test_two_deliveries_of_the_same_data_differ() -> None:
    assert _encrypt(b"same data") != _encrypt(b"same data")


def test_the_wrong_key_fails() -> None:
    blob = _encrypt(b"for the consumer only")
    with pytest.raises(DecryptionFailed, match="frame 0 does not authenticate"):
        _decrypt(blob, bytes.fromhex("11" * 32))


def test_a_flipped_byte_anywhere_fails() -> None:
    blob = _encrypt(os.urandom(40))
    for i in range(len(blob)):
        broken = bytearray(blob)
        broken[i] ^= 0x01
        with pytest.raises(DecryptionFailed):
            _decrypt(bytes(broken))


def test_a_dropped_last_frame_fails() -> None:
    header, frames = _split(_encrypt(os.urandom(40)))
    with pytest.raises(DecryptionFailed, match="ends before its final frame"):
        _decrypt(header + b"".join(frames[:-1]))


def test_a_stream_cut_at_any_byte_fails() -> None:
    blob = _encrypt(os.urandom(40))
    for end in range(len(blob)):
        with pytest.raises(DecryptionFailed):
            _decrypt(blob[:end])


def test_reordered_frames_fail() -> None:
    header, frames = _split(_encrypt(os.urandom(48)))
    with pytest.raises(DecryptionFailed, match="frame 0 does not authenticate"):
        _decrypt(header + frames[1] + frames[0] + frames[2])


def test_a_frame_spliced_from_another_delivery_fails() -> None:
    header, frames = _split(_encrypt(os.urandom(48)))
    _, other = _split(_encrypt(os.urandom(48)))
    with pytest.raises(DecryptionFailed, match="frame 1 does not authenticate"):
        _decrypt(header + frames[0] + other[1] + frames[2])


def test_a_middle_frame_marked_final_fails() -> None:
    header, frames = _split(_encrypt(os.urandom(48)))
    with pytest.raises(DecryptionFailed, match="frame 0 does not authenticate"):
        _decrypt(header + b"\x01" + frames[0][1:])


def test_data_after_the_final_frame_fails() -> None:
    with pytest.raises(DecryptionFailed, match="data follows the final frame"):
        _decrypt(_encrypt(b"payload") + b"\x00")


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"", "header is cut short"),
        (b"XXXX" + bytes(HEADER_SIZE - 4), "not a provledger delivery"),
        (b"PLDV\x02" + bytes(HEADER_SIZE - 5), "version 2 is unknown"),
        (b"PLDV\x01" + bytes(HEADER_SIZE - 9) + struct.pack(">I", 0), "chunk size 0"),
        (b"PLDV\x01" + bytes(HEADER_SIZE - 9) + struct.pack(">I", 16), "ephemeral key"),
    ],
)
def test_a_bad_header_fails(blob: bytes, reason: str) -> None:
    with pytest.raises(DecryptionFailed, match=reason):
        _decrypt(blob)


def test_a_frame_longer_than_a_chunk_is_refused_before_it_is_read() -> None:
    header, frames = _split(_encrypt(b"payload"))
    with pytest.raises(DecryptionFailed, match="frame 0 has a malformed header"):
        _decrypt(header + FRAME.pack(1, 1 << 30))


def test_keys_of_an_ethereum_account_work_in_every_public_form() -> None:
    account = Account.create()
    public = account._key_obj.public_key
    assert len(public.to_bytes()) == 64
    assert public_key_of(bytes(account.key)) == b"\x04" + public.to_bytes()
    for form in (public.to_bytes(), b"\x04" + public.to_bytes(), public.to_compressed_bytes()):
        assert _decrypt(_encrypt(b"to an account", form), bytes(account.key)) == b"to an account"


@pytest.mark.parametrize(
    "key", [b"", bytes(64), b"\x04" + bytes(64), b"\x05" + bytes(64), b"\x02" + bytes(31), b"\x02" + b"\xff" * 32]
)
def test_a_public_key_that_is_no_secp256k1_point_is_refused(key: bytes) -> None:
    with pytest.raises(InvalidInput, match="public_key"):
        _encrypt(b"x", key)


@pytest.mark.parametrize("key", [bytes(31), bytes(32), b"\xff" * 32])
def test_a_private_key_out_of_range_is_refused(key: bytes) -> None:
    with pytest.raises(InvalidInput, match="private_key"):
        public_key_of(key)


@pytest.mark.parametrize("chunk_size", [0, (1 << 26) + 1])
def test_a_chunk_size_out_of_range_is_refused(chunk_size: int) -> None:
    with pytest.raises(InvalidInput, match="chunk_size"):
        _encrypt(b"x", chunk_size=chunk_size)


class _Trickle(io.RawIOBase):
    """A source that returns at most 3 bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(min(3, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_from_a_pipe_still_give_full_chunks() -> None:
    data = os.urandom(100)
    out = io.BytesIO()
    encrypt_stream(_Trickle(data), out, PUBLIC, chunk_size=16)  # type: ignore[arg-type]
    assert len(_split(out.getvalue())[1]) == 7
    plain = io.BytesIO()
    decrypt_stream(_Trickle(out.getvalue()), plain, PRIVATE)  # type: ignore[arg-type]
    assert plain.getvalue() == data
