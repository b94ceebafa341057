"""Building geth v1.13.15, the last release that still seals Clique blocks, once with the Go
toolchain (from the Go module proxy), and finding the cached binary: ``python -m ledger.geth``."""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ledger.compile import PROJECT_ROOT
from ledger.errors import ChainStartFailed

GETH_VERSION = "1.13.15"
GETH_PACKAGE = "github.com/ethereum/go-ethereum/cmd/geth"
GO_TOOLCHAIN = "go1.22.12"
"""geth 1.13 does not link with Go 1.23 or later; the go command fetches this one by itself."""
DEFAULT_GETH_DIR = PROJECT_ROOT / "build" / "geth"


def geth_version(binary: Path) -> str | None:
    """The version ``binary`` reports (``"1.13.15"``), or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, env=clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^Version:\s*(\d+\.\d+\.\d+)", out.stdout, re.MULTILINE)
    return found.group(1) if out.returncode == 0 and found else None


def ensure_geth(cache_dir: Path = DEFAULT_GETH_DIR, *, go: str | None = None, timeout: float = 1800) -> Path:
    """geth 1.13.15 at ``cache_dir/bin/geth``: the cached binary, else built with ``go install``.

    The build uses the Go 1.22 toolchain the module proxy serves; if that fails, the local Go
    with the linker's linkname check off. A lock keeps concurrent callers to one build.
    """
    binary = cache_dir / "bin" / "geth"
    if geth_version(binary) == GETH_VERSION:
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if geth_version(binary) == GETH_VERSION:
            return binary
        go = go or shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
        if go is None:
            raise ChainStartFailed("geth", f"no {binary} and no Go toolchain on PATH to build it")
        failures = []
        for toolchain, flags in ((GO_TOOLCHAIN, []), ("local", ["-ldflags=-checklinkname=0"])):
            env = clean_env() | {"GOTOOLCHAIN": toolchain, "GOBIN": str(binary.parent.resolve())}
            command = [go, "install", *flags, f"{GETH_PACKAGE}@v{GETH_VERSION}"]
            try:
                out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                failures.append(f"GOTOOLCHAIN={toolchain}: timed out after {timeout:.0f} s")
                continue
            if out.returncode == 0 and geth_version(binary) == GETH_VERSION:
                return binary
            failures.append(f"GOTOOLCHAIN={toolchain}: {out.stderr.strip()[-2000:]}")
        raise ChainStartFailed("geth", "go install failed:\n" + "\n".join(failures))


def clean_env() -> dict[str, str]:
    """The environment minus GETH_* variables, which geth would read as flags."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GETH_")}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.geth", description=f"Build or find geth {GETH_VERSION}.")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_GETH_DIR, help=f"default {DEFAULT_GETH_DIR}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        binary = ensure_geth(args.cache_dir)
    except ChainStartFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"geth {geth_version(binary)} at {binary} ({time.monotonic() - started:.1f} s)")
    return 0

