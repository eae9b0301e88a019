"""A real PostgreSQL 15 for the tests: initdb in a fresh folder, started on a free port, stopped and
restarted at will, one fresh database per test (new_database).

Run as the `postgres` user when the tests run as root (the server refuses root), in a folder that
user owns, with its unix socket in that folder too (no /var/run/postgresql needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

from live_server import free_port

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # Debian's layout
START_TIMEOUT_S = 60


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's versioned one, else whatever PATH has."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def skip_reason() -> str | None:
    if pg_bin() is None:
        return "PostgreSQL is not installed (apt-get install -y postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as the postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    return None


class PostgresServer:
    def __init__(self) -> None:
        bin_dir = pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        # not pytest's tmp folder: it is root's alone (mode 700), and the server runs as postgres
        self.root = Path(tempfile.mkdtemp(prefix="factdesk-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def __enter__(self) -> Self:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """mode: "fast" (clients are disconnected), or "immediate" (as a crash: no shutdown checkpoint)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def pids(self) -> list[int]:
        """The postmaster's process id, then its children's (the backends and helpers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == postmaster
        ]
        return [postmaster, *children]

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        name = f"factdesk_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # a generated name: nothing to quote
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _parent(proc: Path) -> int | None:
    """The parent process id of /proc/<pid>, or None when it has gone."""
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (name) state"
