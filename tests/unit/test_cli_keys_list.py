"""``xpay-auth keys list``: the status every other listing shows, and every key, page by page."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from click.testing import CliRunner
from sqlalchemy import insert, update

from xpay_auth.cli.main import cli
from xpay_auth.logs import now_ms
from xpay_auth.storage.models import ApiKeyRow

if TYPE_CHECKING:
    from tests.support import Harness
    from xpay_auth.runtime import Runtime
    from xpay_auth.settings import Settings

USER = "pat@example.com"
DAY_MS = 86_400_000


def _keys_list(settings: Settings) -> list[list[str]]:
    env = {
        "XPAY_AUTH_DATABASE_URL": settings.database_url,
        "XPAY_AUTH_SECRET_KEY": settings.server_secret().decode(),
    }
    result = CliRunner().invoke(cli, ["keys", "list", USER], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines()]


def test_keys_list_shows_an_expired_key_as_expired(harness: Harness, settings: Settings) -> None:
    """A key past its expiry is listed ``expired``, as the key calls show it, not ``active``."""
    harness.create_user(USER)
    live, _ = harness.create_key(USER, expires_in_days=30)
    ended, _ = harness.create_key(USER, expires_in_days=1)
    revoked, _ = harness.create_key(USER)

    async def age_and_revoke(runtime: Runtime) -> None:
        async with runtime.database.engine.begin() as conn:
            await conn.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == ended)
                .values(expires_at_ms=now_ms() - DAY_MS)
            )
        await runtime.database.api_keys.revoke(revoked, now_ms())

    harness.run(age_and_revoke)
    states = {row[0]: row[4] for row in _keys_list(settings)}
    assert states == {live: "active", ended: "expired", revoked: "revoked"}


def test_keys_list_prints_every_key_past_ten_thousand(harness: Harness, settings: Settings) -> None:
    """An account with 10,007 keys gets 10,007 lines, each key once, oldest first."""
    account_id = harness.create_user(USER)
    created = now_ms()
    rows = [
        {
            "id": secrets.token_hex(8),
            "account_id": account_id,
            "name": f"k{index}",
            "scopes": "tme_user",
            "secret_hash": secrets.token_bytes(32),
            "created_at_ms": created + index,
        }
        for index in range(10_007)
    ]

    async def bulk_insert(runtime: Runtime) -> None:
        async with runtime.database.engine.begin() as conn:
            await conn.execute(insert(ApiKeyRow), rows)

    harness.run(bulk_insert)
    listed = [row[0] for row in _keys_list(settings)]
    assert len(listed) == 10_007
    assert listed == [row["id"] for row in rows]
