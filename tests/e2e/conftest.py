"""Real server processes for end-to-end tests: ``xpay-auth serve`` over HTTP on a free port.

Accounts and keys are made with the CLI's own commands, as an operator would: run in the test
process (``Server.cli_in_process``) where they only prepare a test, as the real executable
(``Server.cli``) where the command line is what is tested.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.plain_http import HTTP
from xpay_auth.cli.main import cli as cli_group

# Generous: a loaded machine can take many seconds to start a multi-worker server.
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``xpay-auth ARGS`` with this server's settings."""
        result = subprocess.run(
            [sys.executable, "-m", "xpay_auth", *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"xpay-auth {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_in_process(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """``xpay-auth ARGS`` run in the test process; its standard output.

        The same command as ``cli`` without an interpreter start (most of a second of CPU),
        for tests where the command's effect matters, not its executable;
        ``tests/e2e/test_cli.py`` runs the real one.
        """
        prefix = "XPAY_AUTH_"
        env: dict[str, str | None] = {name: None for name in os.environ if name.startswith(prefix)}
        env.update({name: value for name, value in self.env.items() if name.startswith(prefix)})
        result = CliRunner().invoke(cli_group, list(args), input=stdin, env=env)
        if check and result.exit_code != 0:
            pytest.fail(f"xpay-auth {' '.join(args)} failed: {result.output}")
        return result.stdout

    def create_user(self, username: str, *scopes: str, password: str | None = None) -> None:
        args = ["users", "create", username]
        for scope in scopes or ("tme_user",):
            args += ["--scope", scope]
        if password is not None:
            args.append("--password-stdin")
        self.cli_in_process(*args, stdin=f"{password}\n" if password is not None else None)

    def create_key(self, username: str, *extra: str) -> dict[str, Any]:
        """A new API key from ``keys create``: the ``--json`` object (``id``, ``secretKey``...)."""
        output = self.cli_in_process("keys", "create", username, "--json", *extra)
        key: dict[str, Any] = json.loads(output)
        return key

    def start(self) -> None:
        self.log_path = self.workdir / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xpay_auth",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}: {self.log()[-3000:]}")
            try:
                if HTTP.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"server did not become ready: {self.log()[-3000:]}")

    def stop(self) -> int | None:
        """Stop cleanly (SIGTERM), as an orchestrator would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return (
            self.log_path.read_text(errors="replace")
            if self.log_path and self.log_path.exists()
            else ""
        )

    def post(
        self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return HTTP.post(f"{self.base_url}{path}", json=body, headers=headers, timeout=30, **kwargs)

    def login(self, username: str, secret: str, *, is_api: bool | str = True) -> dict[str, Any]:
        response = self.post(
            "/client/authenticate", {"username": username, "secretKey": secret, "isAPI": is_api}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "success" in body, body
        data: dict[str, Any] = body["success"]["data"]
        return data


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XPAY_AUTH_")}
    env.update(
        {
            "XPAY_AUTH_DATABASE_URL": database_url,
            "XPAY_AUTH_SECRET_KEY": secrets.token_urlsafe(48),
            "XPAY_AUTH_ARGON2_PROFILE": "testing",
        }
    )
    env.update(overrides)
    return env


ServerFactory = Callable[..., Server]


@pytest.fixture
def server_factory(database_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on this test's database; every one is stopped at the end."""
    started: list[Server] = []

    def start(*, workers: int = 1, env: dict[str, str] | None = None, **overrides: str) -> Server:
        server = Server(
            env=env or server_env(database_url, **overrides), workdir=tmp_path, workers=workers
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: ServerFactory) -> Server:
    """One real server process on a fresh database of the service backend."""
    return server_factory()


@pytest.fixture(scope="module")
def shared_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real server for the tests of a module that neither restart it nor count what other
    tests did: each makes accounts of its own. A server start costs about a second of CPU.

    xdist runs a module's tests one after another on each worker, so none run at once here.
    """
    server = Server(env=server_env(module_database_url), workdir=tmp_path_factory.mktemp("shared"))
    server.start()
    yield server
    server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
