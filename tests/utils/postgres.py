"""A throwaway PostgreSQL server for tests: its own cluster, port and temp dir, gone on exit.

Needs Debian's server binaries (scripts/ensure-postgres installs them). initdb and the server
refuse to run as root, so under root they run as the `postgres` OS user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from ledger.chain import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"

# Durability buys nothing for a cluster that is deleted after the test session.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_bin_dir() -> Path | None:
    """The bin directory of the newest PostgreSQL under /usr/lib/postgresql, if any."""
    found = [d for d in PG_ROOT.glob("*/bin") if (d / "initdb").is_file() and (d / "pg_ctl").is_file()]
    # Numerically, so that "9.6" sorts before "15".
    return max(found, key=lambda d: tuple(int(p) for p in d.parent.name.split(".") if p.isdigit()), default=None)


def postgres_available() -> str | None:
    """None if TemporaryPostgres can run here, otherwise a one-line reason it cannot."""
    if find_bin_dir() is None:
        return f"PostgreSQL is not installed under {PG_ROOT} (scripts/ensure-postgres installs it as root)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root but there is no {SERVER_USER!r} OS user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root but runuser is missing"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'psycopg[binary]>=3.1')"
    return None


class TemporaryPostgres:
    """A PostgreSQL server on 127.0.0.1 with a `provledger` database, trusting local TCP logins.

    The server is stopped and its files removed when the ``with`` block ends, even if it raised.
    Check :func:`postgres_available` first for a reason to skip.
    """

    def __init__(self, *, startup_timeout: float = 30.0, stop_timeout: float = 30.0) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(f"no PostgreSQL under {PG_ROOT}")
        self._bin = bin_dir
        self._as_root = os.geteuid() == 0
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.port = 0
        self._directory: Path | None = None

    @property
    def directory(self) -> Path:
        """The temp dir holding the cluster, its sockets and its log."""
        if self._directory is None:
            raise RuntimeError("TemporaryPostgres is not running")
        return self._directory

    @property
    def url(self) -> str:
        return self._url("provledger")

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its SQLAlchemy URL."""
        # Imported here so a venv without psycopg skips PostgreSQL tests instead of failing to collect.
        import psycopg
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres") as conn:
            conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self._url(name)

    def __enter__(self) -> TemporaryPostgres:
        self._directory = Path(tempfile.mkdtemp(prefix="provledger-pg-"))
        try:
            self._start()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop()
        finally:
            self._remove()

    def _url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _start(self) -> None:
        data, sockets = self.directory / "data", self.directory / "sockets"
        sockets.mkdir()
        if self._as_root:
            for path in (self.directory, sockets):
                shutil.chown(path, user=SERVER_USER, group=SERVER_USER)
        self._run(
            "initdb", "--pgdata", str(data), "--username=postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            timeout=self.startup_timeout,
        )
        self.port = free_port()
        # In postgresql.conf rather than pg_ctl -o, whose string goes through a shell unquoted.
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{sockets}'"}
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        # --wait returns once the server accepts connections, or fails after --timeout.
        self._run(
            "pg_ctl", "start", "--pgdata", str(data), "--log", str(self._log), "--wait",
            f"--timeout={round(self.startup_timeout)}",
            timeout=self.startup_timeout + 10,
        )
        self.create_database("provledger")

    def _stop(self) -> None:
        data = self.directory / "data"
        if not (data / "postmaster.pid").exists():
            return
        stop = ["pg_ctl", "stop", "--pgdata", str(data), "--wait", f"--timeout={round(self.stop_timeout)}"]
        try:
            self._run(*stop, "--mode=fast", timeout=self.stop_timeout + 10)
        except (RuntimeError, subprocess.TimeoutExpired):
            # A fast stop still writes a shutdown checkpoint; a throwaway cluster can skip it.
            self._run(*stop, "--mode=immediate", timeout=self.stop_timeout + 10)

    def _remove(self) -> None:
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory)

    @property
    def _log(self) -> Path:
        return self.directory / "server.log"

    def _run(self, program: str, *args: str, timeout: float) -> None:
        command = [str(self._bin / program), *args]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        # Run from our own directory: under runuser the caller's cwd may be closed to postgres.
        result = subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            log = self._log.read_text(errors="replace")[-4000:] if self._log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}{log}")
