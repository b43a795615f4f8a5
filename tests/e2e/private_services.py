"""A PostgreSQL and a Redis of a test's own, on free ports in a temporary folder.

Tests that stop or restart a database must never touch the shared servers: these start a
private instance from the installed binaries (``initdb``/``pg_ctl``, ``redis-server``), and
remove it afterwards. As root, PostgreSQL runs as the ``postgres`` user, which it requires.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import unavailable
from tests.e2e.conftest import free_port

START_TIMEOUT = 30


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@dataclass
class PrivatePostgres:
    bin_dir: Path
    data: Path
    port: int
    user: str | None  # the system user that runs it, when the tests run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data / "db"), "-U", "postgres", "-A", "trust", "-N")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = str(self.data / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data / "db"), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: sessions are ended at once, as in a restart or a failover."""
        self._run("pg_ctl", "-D", str(self.data / "db"), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test alone, started; stopped and removed after it."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        raise AssertionError  # unreachable: unavailable() skips or fails
    user = "postgres" if os.geteuid() == 0 else None
    # Not under pytest's tmp folder: the postgres user must be able to reach it.
    data = Path(tempfile.mkdtemp(prefix="xpay-auth-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    server = PrivatePostgres(bin_dir, data, free_port(), user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop()
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class PrivateRedis:
    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
                else:
                    return
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=START_TIMEOUT)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis server of this test alone, started; stopped after it."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = PrivateRedis(tmp_path, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
