"""The Python SDK (``xpay_auth.client.XPayAuth``) against a real server process.

Logins are counted twice: by the SDK, and by the server's audit trail
(``login.succeeded`` rows), so a login the SDK did not count cannot hide.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import Server, ServerFactory
from tests.e2e.guarded import Wallets
from tests.e2e.helpers import UUID4, Direct
from xpay_auth.client import AuthenticationError, XPayAuth
from xpay_auth.runtime import Runtime
from xpay_auth.storage.models import AuditEventRow

README = Path(__file__).resolve().parents[2] / "README.md"
USERNAME = "sdk@example.com"
TOKEN_TTL = 60  # the shortest lifetime the server's settings allow
ROUNDS, PAUSE = 3, 32


def readme_example() -> str:
    """The Python block between the README's ``sdk-example`` markers."""
    text = README.read_text()
    block = re.search(
        r"<!-- sdk-example -->\n```python\n(.*?)```\n<!-- /sdk-example -->", text, re.DOTALL
    )
    assert block is not None, "README.md lost its SDK example"
    return block.group(1)


def logins_audited(server: Server, username: str = USERNAME) -> int:
    """How many successful logins of ``username`` the server recorded (each before its answer)."""

    async def count(runtime: Runtime) -> int:
        async with runtime.database.engine.connect() as conn:
            statement = (
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.event == "login.succeeded", AuditEventRow.username == username)
            )
            return int((await conn.execute(statement)).scalar_one())

    return Direct(server).run(count)


class Keyed(NamedTuple):
    """A server, and an account of this test's own with the secret of its API key."""

    server: Server
    username: str
    secret: str


_accounts = itertools.count(1)


@pytest.fixture
def keyed(shared_server: Server) -> Keyed:
    """An account of its own on the module's server: its logins are this test's alone."""
    username = f"sdk-{next(_accounts)}@example.com"
    shared_server.create_user(username)
    return Keyed(shared_server, username, str(shared_server.create_key(username)["secretKey"]))


def test_one_login_serves_many_concurrent_requests_of_a_sync_client(
    keyed: Keyed,
) -> None:
    """Forty threads sharing one client and one XPayAuth cause exactly one login."""
    server, username, secret = keyed
    auth = XPayAuth(server.base_url, username, secret)
    with (
        httpx.Client(base_url=server.base_url, auth=auth, timeout=30) as client,
        ThreadPoolExecutor(max_workers=40) as pool,
    ):
        statuses = list(pool.map(lambda _: client.get("/auth/verify").status_code, range(40)))
    assert statuses == [200] * 40
    assert auth.logins == 1
    assert logins_audited(server, username) == 1


def test_one_login_serves_many_concurrent_requests_of_an_async_client(
    keyed: Keyed,
) -> None:
    """Forty concurrent tasks sharing one async client and one XPayAuth cause one login."""
    server, username, secret = keyed
    auth = XPayAuth(server.base_url, username, secret)

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=server.base_url, auth=auth, timeout=30) as client:
            answers = await asyncio.gather(*(client.get("/auth/verify") for _ in range(40)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(main()) == [200] * 40
    assert auth.logins == 1
    assert logins_audited(server, username) == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_revoked_token_is_renewed_once_on_a_401(keyed: Keyed, kind: str) -> None:
    """After its session is logged out elsewhere, the next call logs in again and succeeds."""
    server, username, secret = keyed
    auth = XPayAuth(server.base_url, username, secret)
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async def arecord(request: httpx.Request) -> None:
        record(request)

    def call() -> int:
        if kind == "sync":
            with httpx.Client(auth=auth, event_hooks={"request": [record]}) as client:
                return client.get(f"{server.base_url}/auth/verify").status_code

        async def main() -> int:
            hooks = {"request": [arecord]}
            async with httpx.AsyncClient(auth=auth, event_hooks=hooks) as client:
                return (await client.get(f"{server.base_url}/auth/verify")).status_code

        return asyncio.run(main())

    assert call() == 200
    first_ticket = auth.ticket
    assert auth._token is not None
    token = auth._token.value.get_secret_value()
    assert server.post("/client/logout", token=token).status_code == 200
    sent.clear()

    assert call() == 200
    assert sent == ["/auth/verify", "/client/authenticate", "/auth/verify"]
    assert auth.ticket != first_ticket
    assert auth.logins == 2


def test_the_token_is_renewed_shortly_before_it_expires(keyed: Keyed) -> None:
    """A tenth of the lifetime before expiresAt (at most 30 s), the next call logs in first."""
    server, username, secret = keyed
    now = [1000.0]
    auth = XPayAuth(server.base_url, username, secret, clock=lambda: now[0])
    with httpx.Client(base_url=server.base_url, auth=auth) as client:
        assert client.get("/auth/verify").status_code == 200
        assert auth._token is not None
        lifetime = auth._token.expires_at_ms / 1000 - time.time()
        now[0] += lifetime - 31  # 3600 s tokens: still 31 s to go, no renewal
        assert client.get("/auth/verify").status_code == 200
        assert auth.logins == 1
        now[0] += 2  # 29 s to go: inside the 30 s margin
        assert client.get("/auth/verify").status_code == 200
        assert auth.logins == 2
    assert logins_audited(server, username) == 2


def refusal_of(auth: XPayAuth, base_url: str) -> AuthenticationError:
    """The error a call raises; its traceback starts here, where no local holds the secret."""
    try:
        with httpx.Client(base_url=base_url, auth=auth) as client:
            client.get("/auth/verify")
    except AuthenticationError as error:
        return error
    pytest.fail("the refused login raised nothing")


def test_a_refused_login_raises_the_servers_message_tag_and_uuid(
    keyed: Keyed, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret raises AuthenticationError carrying the envelope; the secret shows nowhere."""
    server, username, secret = keyed
    wrong = secret[:-8] + "AAAAAAAA"
    auth = XPayAuth(server.base_url, username, wrong)
    caplog.set_level(logging.DEBUG)
    error = refusal_of(auth, server.base_url)
    assert error.message == "invalid credentials"
    assert error.data == {"invalid": True}
    assert error.status_code == 200
    assert error.tag is not None
    assert UUID4.fullmatch(error.tag)
    assert error.uuid is not None
    assert UUID4.fullmatch(error.uuid)
    assert error.tag in server.log(), "the tag is how support finds the refusal"

    shown = [
        repr(auth),
        str(auth.__dict__),
        str(error),
        repr(error),
        "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format()),
        caplog.text,
    ]
    for text in shown:
        assert wrong not in text
        assert wrong[5:30] not in text


@pytest.mark.slow
def test_readme_example_keeps_working_across_a_token_expiry(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """The README's ten lines call the wallets example before and after their token expires."""
    server = server_factory(XPAY_AUTH_TOKEN_TTL=str(TOKEN_TTL))
    server.create_user(USERNAME)
    secret = str(server.create_key(USERNAME)["secretKey"])
    wallets = Wallets(auth=server, workdir=tmp_path)
    wallets.start()
    try:
        env = {
            "XPAY_AUTH_URL": server.base_url,
            "XPAY_USERNAME": USERNAME,
            "XPAY_SECRET_KEY": secret,
            "WALLETS_URL": wallets.base_url,
            # Calls at about 0, 32 and 64 s: the first two share the first token, which has
            # expired by the third.
            "ROUNDS": str(ROUNDS),
            "PAUSE_SECONDS": str(PAUSE),
        }
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", readme_example()],
            env={**server.env, **env},
            capture_output=True,
            text=True,
            timeout=ROUNDS * PAUSE + 60,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        wallets.stop()
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [balance for balance, _ in lines] == ["10000"] * 3
    tickets = [ticket for _, ticket in lines]
    assert tickets[0] == tickets[1], "the token was renewed long before it expired"
    assert tickets[2] != tickets[1], "the expired token was not renewed"
    # Each round pauses after its call; the logins and calls themselves take well under 30 s.
    assert ROUNDS * PAUSE < elapsed < ROUNDS * PAUSE + 30
    assert secret not in result.stdout + result.stderr
    assert logins_audited(server) == 2
