"""``provledger node backup`` and ``restore``: one node's database, keystore, manifest, data files
and settings in one ``.tar.gz``, taken while the node runs.

Consistency: the database is copied first, as one snapshot (SQLite's online backup API, or
``pg_dump``, which reads in one transaction), and the files after it. The node writes a file
(an uploaded version, a delivery) before the row that names it, so every file the copied
database names is in the archive; a file written after the snapshot is an orphan the restored
node ignores. The only files a running node deletes are delivered copies past their retention
(:mod:`node.access.delivery.retention`) and the kept files of purged versions
(:mod:`node.catalog.purge`): the backup pins each data file with a hard link as it
lists them, so a copy removed meanwhile is still read whole, and one removed before it was
pinned is left out (its receipt is in the database; the restored node answers that it is gone).

The archive holds ``manifest.json`` first (format, department, database kind, the index's
cursor block, the old data folder, and each member's size, sha256 and mode), then the members:
``database/node.db`` or ``database/node.dump``, ``keys/<keystore>``, ``deployment.json``,
``data/...`` and ``settings.json`` (the node's settings without its passphrase, which no backup
holds: the keystore stays encrypted). The archive is written 0600.

``restore`` unpacks into an empty folder, checks every member's sha256 against the manifest (a
corrupted archive is refused, naming the member, and nothing is left), restores the modes, loads
a PostgreSQL dump into the database given, points the paths the database holds at the new data
folder, and writes ``node.env``: the ``PROVLEDGER_*`` settings of a node started from there.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import make_url

from node.chain.indexer import CURSOR
from node.db import make_engine
from node.errors import NodeError
from node.models import Delivery, DatasetVersion, IndexerCursor
from node.settings import NodeSettings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER, DUMP_MEMBER = "database/node.db", "database/node.dump"
PG_ROOT = Path("/usr/lib/postgresql")
_PINS = ".backup-"
"""The folder, in the data folder, where a backup pins the files it is reading."""
_NOT_DATA = {"node.db", "node.db-wal", "node.db-shm", "node.db-journal", "node.lock"}
# What a restored node.env never carries: secrets, and the paths restore sets itself.
_NOT_SETTINGS = {"passphrase", "passphrase_file", "keystore_path", "manifest_path", "data_dir", "database_url"}


class BackupError(NodeError):
    """A backup that cannot be taken or restored; the message says which part and why."""


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, by its online backup API."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    writing = sqlite3.connect(target)
    try:
        with writing:
            reading.backup(writing)
    finally:
        writing.close()
        reading.close()


def postgres_tool(name: str) -> str:
    """``pg_dump`` or ``pg_restore``: on the PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(PG_ROOT.glob(f"*/bin/{name}"),
                        key=lambda p: tuple(int(x) for x in p.parent.parent.name.split(".") if x.isdigit()))
    if not candidates:
        raise BackupError(f"{name} is not installed (on the PATH or under {PG_ROOT}): it backs up PostgreSQL")
    return str(candidates[-1])


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as libpq takes it, the password in the environment, not argv."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cursor_block(engine: Engine) -> int | None:
    with engine.connect() as connection:
        return connection.execute(select(IndexerCursor.block_number).where(IndexerCursor.name == CURSOR)).scalar()


def _files(data_dir: Path, database: Path | None, pins: Path) -> Iterator[tuple[Path, str]]:
    """The node's data files, by their path in the archive, each hard-linked under ``pins`` (in
    the data folder, hence on its file system) so that its removal cannot cut the backup short."""
    count = itertools.count()
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name in _NOT_DATA or path.name.startswith(".upload-"):
            continue
        relative = path.relative_to(data_dir)
        if relative.parts[0].startswith(_PINS) or (database is not None and path.resolve() == database.resolve()):
            continue
        pin = pins / str(next(count))
        try:
            os.link(path, pin)
        except FileNotFoundError:
            continue  # a delivered copy removed after its retention since it was listed
        yield pin, str(PurePosixPath("data", *relative.parts))


@dataclass(frozen=True)
class Backup:
    out: Path
    manifest: dict[str, Any]

    @property
    def members(self) -> int:
        return len(self.manifest["members"])


def backup(settings: NodeSettings, out: Path) -> Backup:
    """Write the node's backup to ``out`` (which must not exist), while it runs."""
    if out.exists():
        raise BackupError(f"{out} exists: a backup never overwrites a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    url = settings.sql_url
    engine = make_engine(url)
    try:
        with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="provledger-backup-") as folder:
            staged: list[tuple[Path, str]] = []
            database: Path | None = None
            if engine.dialect.name == "sqlite":
                database = Path(make_url(url).database or "")
                copy = Path(folder) / "node.db"
                sqlite_copy(database, copy)
                with sqlite3.connect(copy) as reading:
                    row = reading.execute("SELECT block_number FROM indexer_cursors WHERE name = ?", (CURSOR,)).fetchone()
                cursor = None if row is None else int(row[0])
                staged.append((copy, SQLITE_MEMBER))
            else:
                cursor = _cursor_block(engine)
                dump = Path(folder) / "node.dump"
                target, env = _libpq(url)
                _run([postgres_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                      f"--file={dump}", target], env, "pg_dump")
                staged.append((dump, DUMP_MEMBER))
            staged.append((settings.keystore_path, f"keys/{settings.keystore_path.name}"))
            staged.append((settings.manifest_path, "deployment.json"))
            pins = settings.data_dir / f"{_PINS}{secrets.token_hex(8)}"
            pins.mkdir(mode=0o700)
            stack.callback(shutil.rmtree, pins, ignore_errors=True)
            staged.extend(_files(settings.data_dir, database, pins))
            values = settings.model_dump(mode="json", exclude=_NOT_SETTINGS)
            kept = Path(folder) / "settings.json"
            kept.write_text(json.dumps(values, indent=2, sort_keys=True))
            staged.append((kept, "settings.json"))
            members = {name: {"size": path.stat().st_size, "sha256": _sha256(path),
                              "mode": path.stat().st_mode & 0o777} for path, name in staged}
            manifest = {"format": FORMAT, "department_id": settings.department_id, "database": engine.dialect.name,
                        "cursor_block": cursor, "data_dir": str(settings.data_dir.resolve()),
                        "created": int(time.time()), "members": members}
            partial = out.with_name(f".{out.name}.partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
                    _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
                    for path, name in staged:
                        info = archive.gettarinfo(str(path), arcname=name)
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        with open(path, "rb") as f:
                            archive.addfile(info, f)
                partial.rename(out)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    finally:
        engine.dispose()
    return Backup(out, manifest)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    archive.addfile(info, io.BytesIO(data))


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"member {name!r} is no path inside the folder: refused")
    return path


def _extract(member: IO[bytes], target: Path, expected: dict[str, Any], name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        for block in iter(lambda: member.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            f.write(block)
    if size != expected["size"] or digest.hexdigest() != expected["sha256"]:
        raise BackupError(f"member {name} is corrupted: its sha256 is {digest.hexdigest()} ({size} bytes), "
                          f"the manifest says {expected['sha256']} ({expected['size']} bytes)")
    os.chmod(target, expected["mode"])


def restore(archive_path: Path, into: Path, *, database_url: str | None = None) -> dict[str, Any]:
    """Restore the backup at ``archive_path`` into the empty or new folder ``into``; a PostgreSQL
    backup into the empty database ``database_url``. Returns the archive's manifest."""
    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise BackupError(f"{into} is not an empty folder: restore only fills a new one")
    created = not into.exists()
    into.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        manifest = _unpack(archive_path, into)
        _place(manifest, into, database_url)
    except BaseException:
        for child in into.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        if created:
            into.rmdir()
        raise
    return manifest


def _unpack(archive_path: Path, into: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            first = archive.next()
            if first is None or first.name != MANIFEST:
                raise BackupError(f"{archive_path} is no provledger backup: it does not begin with {MANIFEST}")
            reader = archive.extractfile(first)
            assert reader is not None
            manifest: dict[str, Any] = json.loads(reader.read())
            if manifest.get("format") != FORMAT:
                raise BackupError(f"{archive_path}: backup format {manifest.get('format')!r}, this node reads {FORMAT}")
            expected: dict[str, Any] = manifest["members"]
            seen: set[str] = set()
            for member in archive:
                if member is first:
                    continue
                if member.name not in expected or not member.isfile():
                    raise BackupError(f"member {member.name} is not in the manifest: refused")
                stream = archive.extractfile(member)
                assert stream is not None
                _extract(stream, into / _safe(member.name), expected[member.name], member.name)
                seen.add(member.name)
            missing = sorted(set(expected) - seen)
            if missing:
                raise BackupError(f"member {missing[0]} is missing from the archive")
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, KeyError) as err:
        raise BackupError(f"{archive_path} cannot be read as a backup: {err}") from err
    return manifest


def _place(manifest: dict[str, Any], into: Path, database_url: str | None) -> None:
    data_dir = (into / "data").resolve()
    data_dir.mkdir(exist_ok=True, mode=0o700)
    if manifest["database"] == "sqlite":
        if database_url is not None:
            raise BackupError("a SQLite backup restores into its folder: --database-url is for PostgreSQL backups")
        (into / SQLITE_MEMBER).rename(data_dir / "node.db")
        url = f"sqlite:///{data_dir / 'node.db'}"
    else:
        if database_url is None:
            raise BackupError("a PostgreSQL backup needs --database-url: the empty database to restore it into")
        target, env = _libpq(database_url)
        _run([postgres_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={target}",
              str(into / DUMP_MEMBER)], env, "pg_restore")
        (into / DUMP_MEMBER).unlink()
        url = database_url
    (into / "database").rmdir()
    _relocate(url, manifest["data_dir"], str(data_dir))
    keystore = next(name for name in manifest["members"] if name.startswith("keys/"))
    settings = json.loads((into / "settings.json").read_text())
    lines = [f"PROVLEDGER_{k.upper()}={v}" for k, v in sorted(settings.items()) if v is not None]
    lines += [f"PROVLEDGER_KEYSTORE_PATH={(into / keystore).resolve()}",
              f"PROVLEDGER_MANIFEST_PATH={(into / 'deployment.json').resolve()}",
              f"PROVLEDGER_DATA_DIR={data_dir}", f"PROVLEDGER_DATABASE_URL={url}",
              "# The keystore's passphrase is in no backup: set PROVLEDGER_PASSPHRASE_FILE (or PROVLEDGER_PASSPHRASE)."]
    fd = os.open(into / "node.env", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def _relocate(url: str, old: str, new: str) -> None:
    """Point the file paths the database holds from the old data folder to the new one."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for column in (DatasetVersion.source_path, Delivery.path):
                table = column.class_
                for key, path in connection.execute(select(table.__mapper__.primary_key[0], column)).all():
                    if path.startswith(old + os.sep):
                        connection.execute(update(table).where(table.__mapper__.primary_key[0] == key)
                                           .values({column.key: new + path[len(old):]}))
    finally:
        engine.dispose()
