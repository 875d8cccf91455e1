"""A throwaway PostgreSQL + PostGIS cluster in a temporary folder, on a free port of 127.0.0.1.

>>> with TemporaryCluster() as pg:          # doctest: +SKIP
...     url = pg.create_database("kartenn")  # postgresql://postgres@127.0.0.1:PORT/kartenn
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN_CANDIDATES = ["/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/17/bin"]


def pg_bin() -> Path:
    for candidate in BIN_CANDIDATES:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: run scripts/install-test-deps.sh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kartenn-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.bin = pg_bin()
        self._env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        self._as: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the 'postgres' account (or 'nobody').
            user = "postgres" if _has_user("postgres") else "nobody"
            shutil.chown(self.root, user=user)
            self._as = ["runuser", "-u", user, "--"]

    def start(self) -> TemporaryCluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        conf = (f"listen_addresses='127.0.0.1'\nport={self.port}\nunix_socket_directories='{self.root}'\n"
                "fsync=off\nsynchronous_commit=off\nfull_page_writes=off\nmax_connections=100\n"
                "shared_buffers=256MB\nwork_mem=32MB\nmaintenance_work_mem=256MB\n")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        cmd = [*self._as, str(self.bin / tool), *args]
        result = subprocess.run(cmd, env=self._env, capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr or result.stdout}")


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
