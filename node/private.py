"""The node's files are its own: folders 0700, files 0600, from the moment each is created.

A node holds the most sensitive copies in the system (every uploaded version, every delivered
copy, the database that names every consumer). Modes set after writing leave a window in which
another local user can open the file; a process umask of 077 leaves none, and covers everything
the node writes, its SQLite journal files and temporary files included, not only the paths a
chmod remembers. :func:`make_private` sets it once at start, then closes what an earlier,
laxer run left open in the data folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """Every file and folder this process creates from now on is its user's only."""
    current = os.umask(PRIVATE_UMASK)
    os.umask(current | PRIVATE_UMASK)


def _entries(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    for folder, folders, files in os.walk(root):
        for name in (*folders, *files):
            path = Path(folder, name)
            yield path, path.lstat()


def open_to_others(root: Path) -> list[Path]:
    """What under ``root`` (itself included) a user other than the owner can read, write or enter."""
    found = [root] if root.lstat().st_mode & 0o077 else []
    return found + [path for path, st in _entries(root)
                    if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077]


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) with the private umask set, and take group and other access
    away from anything already under it (symbolic links are left alone: their modes mean
    nothing, and what they point to may not be the node's)."""
    private_umask()
    data_dir.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    for path in open_to_others(data_dir):
        mode = path.lstat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~0o077)
