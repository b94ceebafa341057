"""Staff password hashes: ``scrypt$n$r$p$salt$hash`` (base64 parts), scrypt from the standard
library.

scrypt is kept rather than argon2 (``pwdlib``): it is memory-hard and recommended by OWASP
beside argon2id, it needs no dependency beyond Python, and the hashes already stored in every
node's ``staff_accounts`` keep verifying without a migration or a second scheme to carry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + 2**20)


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh random salt (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``; compares in constant time."""
    try:
        scheme, n, r, p, salt, digest = password_hash.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def unknown_user_hash() -> str:
    """Checked against when the username is unknown, so that a miss takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))
