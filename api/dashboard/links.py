"""One-time login links: a browser without a wallet signs in as an account that signed in with
Ethereum elsewhere (``provledger login`` signs with the keystore, then asks for a link).

A link carries 256 random bits; the node keeps only their SHA-256. The links live in the
``sign_in_nonces`` table beside the Sign-In with Ethereum nonces, being the same thing: a
single-use, short-lived secret that ends in a session for one address. The two never mix: a
link's row is keyed by a 64-hex-digit digest (nonces handed out are 24 letters and digits, and
no one is ever told a digest) and names its address from the start (a nonce's row names one
only once spent). Spending is one conditional UPDATE, so of two browsers racing with one link
only one gets a session, whatever the number of processes serving the node.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger.deploy import Ledger
from node.models import SignInNonce

_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
LIFETIME = 120.0
"""Seconds a link stays valid: long enough to paste it into a browser, not much longer."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class LoginLinks:
    def __init__(self, sessions: sessionmaker[Session], *, lifetime: float = LIFETIME) -> None:
        self.sessions = sessions
        self.lifetime = lifetime

    def issue(self, address: str) -> tuple[str, datetime]:
        """A new link secret for ``address``, and when it expires."""
        secret = secrets.token_urlsafe(32)
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=self.lifetime)
        with self.sessions() as session:
            session.add(SignInNonce(nonce=_digest(secret), expires_at=expires_at, address=address))
            session.commit()
        return secret, expires_at

    def redeem(self, secret: str) -> str | None:
        """The address the link was issued for, the first time it is used before it expires; else None."""
        if not _SECRET.fullmatch(secret):
            return None
        digest, now = _digest(secret), datetime.now(timezone.utc)
        with self.sessions() as session:
            spent = session.connection().execute(
                update(SignInNonce)
                .where(SignInNonce.nonce == digest, SignInNonce.used_at.is_(None), SignInNonce.expires_at > now,
                       SignInNonce.address.is_not(None))
                .values(used_at=now)
            ).rowcount
            session.commit()
            if spent != 1:
                return None
            return session.scalar(select(SignInNonce.address).where(SignInNonce.nonce == digest))


