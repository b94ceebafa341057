"""Single-use secrets that cost the node nothing until they are spent: Sign-In with Ethereum
nonces and the dashboard's one-time login links.

A secret is signed by the node and carries its own expiry: ``hex(expiry | 8 random bytes |
payload | HMAC-SHA256 tag, 16 bytes)``, under a key derived from the node's session key and the
secret's purpose, so a nonce is never taken for a link or a token. Handing one out writes
nothing. Spending one checks the tag and the expiry, then inserts its digest into
``sign_in_nonces``: the primary key refuses the second insert, so of two requests racing with
one secret only one gets through, whatever the number of processes serving the node. A spent
row is kept until the secret expires, then deleted in bounded chunks at most once a minute.

Not a JWT like the session tokens (:mod:`api.auth.tokens`), nor an ``itsdangerous`` token: a
Sign-In with Ethereum nonce must be letters and digits only (EIP-4361: ``nonce = 8*( ALPHA /
DIGIT )``), which rules out their ``.``, ``-`` and ``_``; a fixed-size hex string also gives
each secret exactly one spelling, so the digest that records it spent cannot be dodged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from node.models import SignInNonce

_TAG = 16
_RANDOM = 8


class SecretRefused(Exception):
    """Why a secret cannot be spent, in words for the caller."""


class SignedSecrets:
    """Single-use secrets of one purpose, with ``payload_size`` bytes of payload each."""

    def __init__(self, key: bytes, sessions: sessionmaker[Session], *, purpose: str, payload_size: int = 0,
                 sweep_every: float = 60.0, sweep_chunk: int = 500, sweep_rounds: int = 20) -> None:
        self._key = hmac.new(key, b"provledger single-use secret\x00" + purpose.encode(), hashlib.sha256).digest()
        self.sessions = sessions
        self.payload_size = payload_size
        self.length = 2 * (8 + _RANDOM + payload_size + _TAG)
        """The length of a secret in hex digits."""
        self.sweep_every = sweep_every
        self.sweep_chunk = sweep_chunk
        self.sweep_rounds = sweep_rounds
        self._next_sweep = time.monotonic() + sweep_every
        self._sweeping = threading.Lock()

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG]

    def issue(self, lifetime: float, payload: bytes = b"") -> tuple[str, datetime]:
        """A new secret carrying ``payload``, valid for ``lifetime`` seconds; nothing is stored."""
        if len(payload) != self.payload_size:
            raise ValueError(f"the payload must be {self.payload_size} bytes")
        expires_at = int(time.time() + lifetime)
        body = struct.pack(">Q", expires_at) + secrets.token_bytes(_RANDOM) + payload
        return (body + self._tag(body)).hex(), datetime.fromtimestamp(expires_at, timezone.utc)

    def read(self, text: str, now: datetime) -> tuple[datetime, bytes]:
        """The expiry and payload of a secret this node signed for this purpose and that has not expired."""
        try:
            raw = bytes.fromhex(text) if len(text) == self.length else b""
        except ValueError:
            raw = b""
        body, tag = raw[:-_TAG], raw[-_TAG:]
        # One spelling per secret (lowercase hex), so that no other spelling spends it again.
        if not raw or raw.hex() != text or not hmac.compare_digest(tag, self._tag(body)):
            raise SecretRefused("was not issued by this node")
        expires_at = datetime.fromtimestamp(struct.unpack(">Q", body[:8])[0], timezone.utc)
        if expires_at <= now:
            raise SecretRefused("has expired")
        return expires_at, body[8 + _RANDOM:]

    def spend(self, text: str, *, address: str | None = None) -> bytes:
        """Spend a secret once (its payload back); :class:`SecretRefused` says why it cannot be."""
        now = datetime.now(timezone.utc)
        expires_at, payload = self.read(text, now)
        with self.sessions() as session:
            session.add(SignInNonce(nonce=hashlib.sha256(bytes.fromhex(text)).hexdigest(), expires_at=expires_at,
                                    used_at=now, address=address))
            try:
                session.commit()
            except IntegrityError as err:
                session.rollback()
                raise SecretRefused("was used already") from err
        self._maybe_sweep(now)
        return payload

    def _maybe_sweep(self, now: datetime) -> None:
        if time.monotonic() < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = time.monotonic() + self.sweep_every
            self.sweep(now)
        finally:
            self._sweeping.release()

    def sweep(self, now: datetime) -> int:
        """Delete spent secrets that have expired, ``sweep_chunk`` rows per transaction and at
        most ``sweep_rounds`` chunks; the number deleted."""
        deleted = 0
        for _ in range(self.sweep_rounds):
            with self.sessions() as session:
                expired = select(SignInNonce.nonce).where(SignInNonce.expires_at < now).limit(self.sweep_chunk)
                count = session.connection().execute(
                    delete(SignInNonce).where(SignInNonce.nonce.in_(expired))).rowcount
                session.commit()
            deleted += count
            if count < self.sweep_chunk:
                break
        return deleted
