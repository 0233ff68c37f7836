"""A throwaway PostgreSQL server for the service's database tests, from Debian's package.

The server is a new cluster (``initdb``) in a temporary folder, listening on 127.0.0.1 on a
free port and on a unix socket in that folder, with ``trust`` authentication for its one user;
:meth:`PostgresServer.stop` stops it and removes the folder, so nothing is left behind.
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user that
Debian's package creates (the folder is given to it).

Where the binaries are: ``$PEERGRID_PG_BIN`` if set, else the newest
``/usr/lib/postgresql/<version>/bin`` (Debian's layout; ``make postgres`` installs it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "peergrid"


def find_binaries() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    configured = os.environ.get("PEERGRID_PG_BIN")
    candidates = (
        [configured]
        if configured
        else sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for folder in candidates:
        if all((Path(folder) / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def missing_reason() -> str | None:
    """Why the server cannot be started here (``None`` when it can)."""
    if find_binaries() is None:
        return (
            "PostgreSQL's server binaries are not installed (Debian's 'postgresql' package: "
            "make postgres), nor named by PEERGRID_PG_BIN"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway server (:meth:`start`); :meth:`stop` removes every trace."""

    bin: Path
    folder: Path
    port: int
    _databases: int = field(default=0, repr=False)

    @classmethod
    def start(cls) -> PostgresServer:
        binaries = find_binaries()
        if binaries is None:
            raise RuntimeError(missing_reason())
        folder = Path(tempfile.mkdtemp(prefix="peergrid-pg-"))
        server = cls(binaries, folder, free_port())
        try:
            if os.geteuid() == 0:
                owner = pwd.getpwnam("postgres")
                os.chown(folder, owner.pw_uid, owner.pw_gid)
            server._run(
                "initdb", "-D", str(folder / "data"), "-U", USER, "-A", "trust", "--no-sync",
                "-E", "UTF8", "--locale=C",
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -p {server.port} -k {folder} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            server._run(
                "pg_ctl", "-D", str(folder / "data"), "-o", options,
                "-l", str(folder / "server.log"), "-w", "-t", "60", "start",
            )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, program: str, *args: str) -> None:
        user = "postgres" if os.geteuid() == 0 else None
        done = subprocess.run(
            [str(self.bin / program), *args],
            user=user,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        data = self.folder / "data"
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)
