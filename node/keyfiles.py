"""The node's secret key files (the session key, the fingerprint key): made on first use,
readable only by the node, the same bytes for every process that reads them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from node.errors import InvalidInput


def secret_file(path: Path, size: int = 32) -> bytes:
    """The ``size`` random bytes kept in ``path``, made (mode 0600) if the file is missing.

    The bytes are written under a temporary name and then hard-linked to ``path``: the link
    fails if another process made the file first, so processes starting at once all read the
    one key that won, never a half-written one. A file of another size is refused.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(size))
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    key = path.read_bytes()
    if len(key) != size:
        raise InvalidInput(path.name, f"{path} must hold {size} bytes, not {len(key)}")
    return key
