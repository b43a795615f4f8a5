"""The guard in this process against a real xpay-auth server: rotation, outage, verdicts."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.conftest import Server, ServerFactory
from tests.e2e.guarded import verifier_credentials
from tests.support import PASSWORD
from xpay_auth.errors import Forbidden, Unauthorized
from xpay_auth.guard import Guard, GuardConfig, GuardUnavailable
from xpay_auth.security.tokens import TokenVerifier

pytestmark = pytest.mark.anyio


def header_kid(token: str) -> str:
    return TokenVerifier(lambda _: None, "", "").header_kid(token)


async def guard_config(server: Server, **options: float) -> GuardConfig:
    """The guard's settings, with a service account and key of its own on ``server``."""
    credentials = await asyncio.to_thread(verifier_credentials, server)
    return GuardConfig(auth_url=server.base_url, **credentials, **options)  # type: ignore[arg-type]


async def login(server: Server, username: str) -> str:
    data = await asyncio.to_thread(server.login, username, PASSWORD, is_api=False)
    return str(data["access_token"])


async def test_guard_gives_the_servers_verdicts(server: Server) -> None:
    """Tokens of the real server pass the guard with their scopes; scope and logout are enforced."""
    await asyncio.to_thread(server.create_user, "alice@example.com", password=PASSWORD)
    token = await login(server, "alice@example.com")
    async with Guard(await guard_config(server)) as guard:
        claims = await guard.authorize(f"Bearer {token}", ["tme_user"])
        assert claims.username == "alice@example.com"
        with pytest.raises(Forbidden):
            await guard.authorize(f"Bearer {token}", ["tme_admin"])
        response = await asyncio.to_thread(server.post, "/client/logout", token=token)
        assert response.status_code == 200
        assert await guard.poll_revocations() is True
        with pytest.raises(Unauthorized, match="revoked"):
            await guard.authenticate(f"Bearer {token}")


async def test_guard_follows_a_signing_key_rotation(server_factory: ServerFactory) -> None:
    """After `signing-keys rotate`, tokens under the new kid pass through one key-set refetch."""
    server = server_factory(XPAY_AUTH_SIGNING_KEY_REFRESH="0.5")
    await asyncio.to_thread(server.create_user, "bob@example.com", password=PASSWORD)
    old = await login(server, "bob@example.com")
    async with Guard(await guard_config(server)) as guard:
        await guard.authenticate(f"Bearer {old}")
        fetches = guard.keys.fetches
        await asyncio.to_thread(server.cli, "signing-keys", "rotate")
        deadline = time.monotonic() + 10
        new = old
        while header_kid(new) == header_kid(old) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            new = await login(server, "bob@example.com")
        assert header_kid(new) != header_kid(old), "the server never signed with the new key"
        assert header_kid(new) not in guard.keys.kids
        await guard.authenticate(f"Bearer {new}")
        assert guard.keys.fetches == fetches + 1
        await guard.authenticate(f"Bearer {old}")  # the retired key stays published


async def test_guard_fails_closed_while_the_server_is_down(server: Server) -> None:
    """With xpay-auth stopped the guard answers 503 once its list is stale, and recovers after."""
    await asyncio.to_thread(server.create_user, "carol@example.com", password=PASSWORD)
    token = f"Bearer {await login(server, 'carol@example.com')}"
    config = await guard_config(server, poll_interval=0.2, request_timeout=0.3, max_staleness=1.0)
    async with Guard(config) as guard:
        await guard.authenticate(token)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(config.max_staleness + 0.3)
        with pytest.raises(GuardUnavailable):
            await guard.authenticate(token)
        assert guard.status()["ready"] is False
        await asyncio.to_thread(server.start)
        deadline = time.monotonic() + 10
        while not guard.ready and time.monotonic() < deadline:  # noqa: ASYNC110  polls a remote
            await asyncio.sleep(0.1)
        assert (await guard.authenticate(token)).username == "carol@example.com"
