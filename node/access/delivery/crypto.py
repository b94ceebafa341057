"""Encrypting a delivery to its consumer's secp256k1 key, streamed in authenticated chunks.

Each delivery makes a fresh ephemeral key. ECDH between it and the consumer's key, through
HKDF-SHA256, gives a one-time AES-256-GCM key: the salt is the ephemeral public key (already in
the header, and unique to the delivery), the info is a version label followed by the consumer's
uncompressed public key, so the key is bound to whom it was made for.

The plaintext is sealed in authenticated frames (:mod:`node.frames`, the STREAM construction
shared with the node's encrypted store), so deliveries of any size pass in constant memory and
a reader detects cut, reordered or spliced frames as surely as changed bytes. Integers are
big-endian::

    header  magic "PLDV" | version (1 byte) | ephemeral public key (65 bytes, uncompressed)
            | nonce prefix (4 random bytes) | chunk size (4 bytes)
    frames  as :mod:`node.frames` lays them out, the header bound into each
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from node.errors import DecryptionFailed, InvalidInput
from node.frames import MAX_CHUNK_SIZE, FrameWriter, open_frames, read_up_to, require_chunk_size

MAGIC = b"PLDV"
VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20
_INFO = b"provledger delivery v1"
_CURVE = ec.SECP256K1()
_HEADER = struct.Struct(">4sB65s4sI")


# ---------------------------------------------------------------- keys


def _public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """A public key from 65 uncompressed, 33 compressed or 64 raw (Ethereum-style) bytes."""
    if len(data) == 64:
        data = b"\x04" + data
    if len(data) not in (33, 65):
        raise InvalidInput("public_key", f"{len(data)} bytes is no secp256k1 public key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, data)
    except ValueError as err:
        raise InvalidInput("public_key", "not a point of secp256k1") from err


def _private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    if len(data) != 32:
        raise InvalidInput("private_key", f"{len(data)} bytes where 32 are needed")
    try:
        return ec.derive_private_key(int.from_bytes(data, "big"), _CURVE)
    except ValueError as err:
        raise InvalidInput("private_key", "out of range for secp256k1") from err


def _uncompressed(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def public_key_of(private_key: bytes) -> bytes:
    """The 65-byte uncompressed public key of a 32-byte secp256k1 private key."""
    return _uncompressed(_private_key(private_key).public_key())


def _cipher(own: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey, ephemeral: bytes, recipient: bytes) -> AESGCM:
    shared = own.exchange(ec.ECDH(), peer)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral, info=_INFO + recipient).derive(shared)
    return AESGCM(key)


# ---------------------------------------------------------------- streams


def encrypt_stream(
    src: BinaryIO, dst: BinaryIO, recipient_public_key: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> None:
    """Encrypt all of ``src`` into ``dst`` for the holder of ``recipient_public_key``.

    The key may be 65 bytes uncompressed, 33 compressed, or 64 raw as Ethereum keeps it.
    """
    require_chunk_size(chunk_size)
    recipient = _public_key(recipient_public_key)
    ephemeral = ec.generate_private_key(_CURVE)
    ephemeral_public = _uncompressed(ephemeral.public_key())
    prefix = os.urandom(4)
    header = _HEADER.pack(MAGIC, VERSION, ephemeral_public, prefix, chunk_size)
    cipher = _cipher(ephemeral, recipient, ephemeral_public, _uncompressed(recipient))
    dst.write(header)
    frames = FrameWriter(cipher, prefix, header, dst, chunk_size)
    while chunk := src.read(chunk_size):
        frames.write(chunk)
    frames.close()


def decrypt_stream(src: BinaryIO, dst: BinaryIO, private_key: bytes) -> None:
    """Decrypt a delivery from ``src`` into ``dst`` with the consumer's 32-byte private key.

    Each chunk is written as soon as it authenticates, so after :class:`DecryptionFailed`
    ``dst`` holds a genuine but incomplete prefix, which the caller must discard.
    """
    own = _private_key(private_key)
    header = read_up_to(src, _HEADER.size)
    if len(header) < _HEADER.size:
        raise DecryptionFailed("the header is cut short")
    magic, version, ephemeral_public, prefix, chunk_size = _HEADER.unpack(header)
    if magic != MAGIC:
        raise DecryptionFailed("it is not a provledger delivery")
    if version != VERSION:
        raise DecryptionFailed(f"format version {version} is unknown")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise DecryptionFailed(f"chunk size {chunk_size} is out of range")
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, ephemeral_public)
    except ValueError as err:
        raise DecryptionFailed("the ephemeral key is not a point of secp256k1") from err
    cipher = _cipher(own, ephemeral, ephemeral_public, _uncompressed(own.public_key()))
    for chunk in open_frames(src, cipher, prefix, header, chunk_size):
        dst.write(chunk)
