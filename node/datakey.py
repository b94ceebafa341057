"""The node's data key: the AES-256 key its store (:mod:`node.store`) encrypts every kept file
with, itself kept only wrapped.

The key is made at random the first time a node starts on a data folder and written there,
wrapped (AES-256-GCM) under a key derived from the keystore's passphrase with scrypt, or from a
key file the operator names (``PROVLEDGER_DATA_KEY_FILE``, e.g. a mounted secret). So the data
folder holds the encrypted files and the wrapped key together: a backup carries both, and is
read again only by whoever has the passphrase or the key file. Rotating the passphrase or moving
to a key file re-wraps the same key (:func:`rewrap`): no stored file needs to be encrypted again.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from node.errors import SettingsInvalid

KEY_NAME = "data-key.json"
FORMAT = "provledger data key"
KEY_SIZE = 32
MIN_KEY_FILE = 32
"""A key file must hold at least this many bytes (of secret: e.g. ``openssl rand 32``)."""

# scrypt's cost: 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s, once per start.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 15, 8, 1

Wrap = Literal["passphrase", "key file"]


@dataclass(frozen=True)
class KeySecret:
    """What the data key is wrapped under: the keystore passphrase, or a key file's bytes."""

    kind: Wrap
    secret: bytes
    setting: str
    """The setting that supplies it, named in errors."""


def _kek(secret: KeySecret, salt: bytes, scrypt: dict[str, int]) -> AESGCM:
    if secret.kind == "passphrase":
        derived = Scrypt(salt=salt, length=32, n=scrypt["n"], r=scrypt["r"], p=scrypt["p"]).derive(secret.secret)
    else:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=b"provledger data key wrap v1").derive(secret.secret)
    return AESGCM(derived)


def _associated(kind: Wrap) -> bytes:
    return f"{FORMAT} v1 under {kind}".encode()


def wrapped(key: bytes, secret: KeySecret) -> dict[str, object]:
    """The JSON kept in the data folder for ``key`` wrapped under ``secret``."""
    salt, nonce = os.urandom(16), os.urandom(12)
    scrypt = {"n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P}
    sealed = _kek(secret, salt, scrypt).encrypt(nonce, key, _associated(secret.kind))
    return {"format": FORMAT, "version": 1, "wrapped_under": secret.kind, "salt": salt.hex(),
            **({"scrypt": scrypt} if secret.kind == "passphrase" else {}),
            "nonce": nonce.hex(), "wrapped_key": sealed.hex()}


def unwrap(path: Path, secret: KeySecret) -> bytes:
    """The data key kept wrapped in ``path``; :class:`SettingsInvalid` naming the setting to fix
    if ``secret`` does not open it."""
    try:
        kept = json.loads(path.read_text())
        if kept.get("format") != FORMAT or kept.get("version") != 1:
            raise ValueError("not a provledger data key of version 1")
        kind = kept["wrapped_under"]
        salt, nonce, sealed = (bytes.fromhex(kept[k]) for k in ("salt", "nonce", "wrapped_key"))
        scrypt = {k: int(v) for k, v in kept.get("scrypt", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise SettingsInvalid("data_dir", f"the data key {path} cannot be read: {err}") from err
    if kind != secret.kind:
        other = "PROVLEDGER_DATA_KEY_FILE" if kind == "key file" else "the keystore passphrase (no PROVLEDGER_DATA_KEY_FILE)"
        raise SettingsInvalid(secret.setting, f"the data key {path} is wrapped under a {kind}: start with {other}")
    try:
        key = _kek(secret, salt, scrypt).decrypt(nonce, sealed, _associated(kind))
    except (InvalidTag, ValueError) as err:
        raise SettingsInvalid(secret.setting, f"it does not open the data key {path}: a wrong {kind}, "
                              "or the data folder of another node") from err
    if len(key) != KEY_SIZE:
        raise SettingsInvalid("data_dir", f"the data key {path} holds {len(key)} bytes, not {KEY_SIZE}")
    return key


def _staged(path: Path, content: dict[str, object]) -> Path:
    """``content`` written and synced beside ``path``, under a temporary name (mode 0600)."""
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(content, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return staging


def _write_new(path: Path, content: dict[str, object]) -> None:
    """Write ``content`` to ``path`` only if no file is there: concurrent starts keep one key."""
    staging = _staged(path, content)
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()


def data_key(data_dir: Path, secret: KeySecret, encrypted: Callable[[], Path | None] = lambda: None) -> bytes:
    """The node's data key, made and kept wrapped under ``secret`` on the first start; never
    made anew when ``encrypted()`` finds a file already encrypted under the lost one."""
    path = data_dir / KEY_NAME
    if not path.exists():
        if (found := encrypted()) is not None:
            raise SettingsInvalid("data_dir", f"{path} is missing, yet {found} is encrypted under it: "
                                  "restore the data key from a backup")
        _write_new(path, wrapped(secrets.token_bytes(KEY_SIZE), secret))
    return unwrap(path, secret)


def rewrap(data_dir: Path, old: KeySecret, new: KeySecret) -> None:
    """Keep the same data key wrapped under ``new`` instead of ``old`` (run with the node
    stopped). The new wrapping replaces the old in one rename: a crash leaves one or the other."""
    path = data_dir / KEY_NAME
    os.replace(_staged(path, wrapped(unwrap(path, old), new)), path)


def key_file_secret(path: Path, setting: str = "data_key_file") -> KeySecret:
    """The secret of a key file, which must be readable and hold at least 32 bytes: a text file
    (hex, base64, a passphrase) without the whitespace around it, as an editor may add a final
    newline; random bytes as they are, whatever bytes they start or end with."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SettingsInvalid(setting, f"cannot read {path}: {err.strerror or err}") from err
    secret = _key_material(raw)
    if len(secret) < MIN_KEY_FILE:
        raise SettingsInvalid(setting, f"{path} holds {len(secret)} bytes; a data key file needs at least {MIN_KEY_FILE}")
    return KeySecret("key file", secret, setting)


def _key_material(raw: bytes) -> bytes:
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw
    return text.encode() if text.isprintable() else raw
