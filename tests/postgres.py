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


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server on a free loopback port; yield its SQLAlchemy URL."""
    bindir = server_bin()
    assert bindir is not None
    data = Path(tempfile.mkdtemp(prefix="nasbench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data / "db"), "-U", "nasbench",
                                 "--auth=trust", "-E", "UTF8"]), check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data / "db"), "-o", options,
                                 "-l", str(data / "log"), "-w", "start"]), check=True, env=env,
                   stdout=subprocess.DEVNULL)
    try:
        subprocess.run(_as_postgres([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port),
                                     "-U", "nasbench", "-d", "postgres", "-q", "-c",
                                     "CREATE DATABASE nasbench"]), check=True, env=env)
        yield f"postgresql://nasbench@127.0.0.1:{port}/nasbench"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast",
                                     "-w", "stop"]), env=env, stdout=subprocess.DEVNULL)
        shutil.rmtree(data, ignore_errors=True)
