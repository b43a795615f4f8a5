"""Services behind the guard, as real processes: the wallets example under uvicorn.

Also mints tokens a real server would never hand out (expired, for another audience),
signed with that server's own current key, read from its database as the CLI reads it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.e2e.conftest import STARTUP_TIMEOUT, Server, free_port
from tests.plain_http import HTTP
from xpay_auth.runtime import open_runtime
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.security.tokens import TokenIssuer
from xpay_auth.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WALLETS_DIR = EXAMPLES / "wallets"


def verifier_credentials(server: Server, name: str = "wallets-guard") -> dict[str, str]:
    """A guard's service account (tme_verifier) and key, made with the CLI as docs/guard.md says."""
    server.cli_in_process("users", "create", name, "--scope", "tme_verifier")
    key = server.create_key(name, "--name", f"{name} feed", "--scope", "tme_verifier")
    return {"username": name, "secret_key": str(key["secretKey"])}


def guard_env(server: Server, name: str = "wallets-guard") -> dict[str, str]:
    """``XPAY_GUARD_*`` variables for a guarded service of ``server``."""
    credentials = verifier_credentials(server, name)
    return {
        "XPAY_GUARD_AUTH_URL": server.base_url,
        "XPAY_GUARD_USERNAME": credentials["username"],
        "XPAY_GUARD_SECRET_KEY": credentials["secret_key"],
    }


@dataclass
class Wallets:
    """The wallets example as ``uvicorn wallets:create_app --factory``, guarded by ``auth``."""

    auth: Server
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"wallets-{self.port}.log"

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("XPAY_")}
        guard = self.extra_env if "XPAY_GUARD_USERNAME" in self.extra_env else guard_env(self.auth)
        env.update({**guard, **self.extra_env})
        command = [
            sys.executable, "-m", "uvicorn", "wallets:create_app", "--factory",
            "--app-dir", str(WALLETS_DIR), "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=self.workdir, stdout=log, stderr=log
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"wallets exited with {self.process.returncode}: {self.log()[-3000:]}")
            try:
                if HTTP.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"wallets did not become ready: {self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(
        self, path: str, body: Any = None, *, token: str | None = None, **headers: str
    ) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return HTTP.post(f"{self.base_url}{path}", json=body, headers=headers, timeout=10)


def mint_token(
    server: Server,
    *,
    issued_at: int,
    lifetime: int,
    audience: str | None = None,
    scopes: tuple[str, ...] = ("tme_user",),
) -> str:
    """A token signed with ``server``'s current key, with claims of the test's choosing."""
    settings = Settings(
        database_url=server.env["XPAY_AUTH_DATABASE_URL"],
        secret_key=SecretStr(server.env["XPAY_AUTH_SECRET_KEY"]),
    )

    async def mint() -> str:
        async with open_runtime(settings, ensure_signing_key=False) as runtime:
            await runtime.keyring.load()
            issuer = TokenIssuer(
                runtime.keyring.current, settings.issuer, audience or settings.audience
            )
            return issuer.issue(
                subject="acc-minted",
                username="minted@example.com",
                scopes=scopes,
                ticket="f" * 32,
                client_id=DASHBOARD_CLIENT_ID,
                issued_at=issued_at,
                expires_at=issued_at + lifetime,
            )

    return asyncio.run(mint())
