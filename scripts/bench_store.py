"""`make bench` part ``store``: verifying a version the node keeps encrypted (:mod:`node.store`)
against its content root (every frame decrypted and authenticated, the plaintext hashed into
its root), beside ``sha256sum`` and Python's ``hashlib.sha256`` over the same plaintext, run in
the same process."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from ledger.compile import PROJECT_ROOT
from ledger.hashing import content_root
from node.store import DataStore
from scripts.bench_figures import Figure, timed


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def bench_store(size: int) -> list[Figure]:
    """Encrypt ``size`` bytes into the store, then time verifying them against the plaintext's root."""
    folder = PROJECT_ROOT / "bench"
    plain, kept = folder / "store-plain.tmp", folder / "store-kept.tmp"
    folder.mkdir(exist_ok=True)
    store = DataStore(os.urandom(32))
    block = os.urandom(1 << 20)
    try:
        with open(plain, "wb") as f:
            for _ in range(size >> 20):
                f.write(block)
        with open(plain, "rb") as src:
            store.store(src, kept)
        expected = content_root(plain).root
        subprocess.run(["sha256sum", str(plain)], check=True, capture_output=True)  # the page cache, warm for all
        baseline, _ = timed(lambda: subprocess.run(["sha256sum", str(plain)], check=True, capture_output=True))
        python, _ = timed(lambda: _sha256(plain))
        ours, found = timed(lambda: store.root_of(kept))
        if found.root != expected:
            raise AssertionError("the encrypted version's root is not its plaintext's")
    finally:
        plain.unlink(missing_ok=True)
        kept.unlink(missing_ok=True)
    mib = size / (1 << 20)
    name = f"verify a {mib / 1024:g} GiB encrypted version against its root, MB/s"
    return [
        Figure(name, mib / ours, "MB/s", mib / baseline, "sha256sum of the plaintext", ">= 100%"),
        Figure(name, mib / ours, "MB/s", mib / python, "hashlib.sha256 of the plaintext in Python", "reported"),
    ]
