"""A private PostgreSQL server for the tests: initdb in a temporary folder, loopback only, stopped
afterwards. Needs Debian's postgresql package (``bash setup.sh --test`` installs it)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def server_bin() -> Path | None:
    """The folder holding PostgreSQL's initdb and pg_ctl, if installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:  # initdb refuses to run as root
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PostgresServer:
    """A private server: ``start()`` (initialises on first use), ``stop()``, ``url``."""

    def __init__(self) -> None:
        bindir = server_bin()
        assert bindir is not None
        self.bindir = bindir
        self.data = Path(tempfile.mkdtemp(prefix="nasbench-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ, "LC_ALL": "C.UTF-8"}
        self.url = f"postgresql://nasbench@127.0.0.1:{self.port}/nasbench"
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(self.data / "db"), "-U",
                                     "nasbench", "--auth=trust", "-E", "UTF8"]), check=True,
                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.start()
        subprocess.run(_as_postgres([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                     "-U", "nasbench", "-d", "postgres", "-q", "-c",
                                     "CREATE DATABASE nasbench"]), check=True, env=self.env)

    def start(self) -> None:
        """Start (or restart) the server on its port."""
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections=100 -c fsync=off")
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data / "db"), "-o",
                                     options, "-l", str(self.data / "log"), "-w", "start"]),
                       check=True, env=self.env, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop the server (its data stays: ``start()`` brings it back)."""
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data / "db"),
                                     "-m", "fast", "-w", "stop"]), env=self.env,
                       stdout=subprocess.DEVNULL)

    def remove(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server on a free loopback port; yield its SQLAlchemy URL."""
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.remove()
