"""``xpay-auth keys ...`` and ``xpay-auth signing-keys ...``"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from xpay_auth.cli.common import with_runtime
from xpay_auth.logs import now_ms
from xpay_auth.runtime import Runtime
from xpay_auth.security.api_keys import display_prefix
from xpay_auth.security.tokens import DEFAULT_LEEWAY
from xpay_auth.services import accounts, api_keys
from xpay_auth.settings import MAX_TOKEN_TTL

_PAGE = 500


def _time(ms: int | None) -> str:
    return (
        "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
    )


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label for the key.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope of the key (default: the account's); repeatable.",
)
@click.option("--expires-in-days", type=click.IntRange(1, api_keys.MAX_EXPIRY_DAYS), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on one line.")
def create(
    username: str,
    name: str,
    scopes: tuple[str, ...],
    expires_in_days: int | None,
    as_json: bool,  # noqa: FBT001
) -> None:
    """Create an API key; its secret is printed this once."""

    async def action(runtime: Runtime) -> None:
        account = await accounts.require_account(runtime.database.accounts, username)
        issued = await api_keys.create_key(
            runtime.services.keys,
            account,
            name=name,
            scopes=scopes or None,
            expires_in_days=expires_in_days,
        )
        key = issued.key
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": key.id,
                        "secretKey": issued.secret,
                        "username": account.username,
                        "name": key.name,
                        "scopes": list(key.scopes),
                        "createdAt": key.created_at_ms,
                        "expiresAt": key.expires_at_ms,
                    }
                )
            )
            return
        click.echo(
            f"key {key.id} for {account.username}, scopes {' '.join(key.scopes)}, "
            f"expires {_time(key.expires_at_ms)}"
        )
        click.echo("secret (shown once, store it now):")
        click.echo(issued.secret)

    with_runtime(action)


@keys.command("list")
@click.argument("username")
def list_(username: str) -> None:
    """List an account's keys (never their secrets)."""

    async def action(runtime: Runtime) -> None:
        account = await accounts.require_account(runtime.database.accounts, username)
        now = now_ms()
        # Oldest first, page by page: a key created while listing lands after the rows
        # already printed instead of shifting them, and no account is cut short.
        offset = 0
        while True:
            page = await api_keys.list_keys(
                runtime.database.api_keys, account, offset=offset, limit=_PAGE, newest_first=False
            )
            for key in page.items:
                click.echo(
                    f"{key.id}\t{display_prefix(key.id)}\t{key.name or '-'}\t"
                    f"{' '.join(key.scopes)}\t{key.status(now)}\t"
                    f"created {_time(key.created_at_ms)}\texpires {_time(key.expires_at_ms)}\t"
                    f"last used {_time(key.last_used_at_ms)}"
                )
            offset += len(page.items)
            if len(page.items) < _PAGE:
                break

    with_runtime(action)


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key: it and the sessions opened with it stop working at once."""

    async def action(runtime: Runtime) -> None:
        key = await api_keys.require_key(runtime.database.api_keys, key_id)
        changed = await api_keys.revoke_key(runtime.services.keys, key)
        click.echo(f"revoked {key.id}" if changed else f"{key.id} was already revoked")

    with_runtime(action)


@click.group("signing-keys")
def signing_keys() -> None:
    """Manage the keys that sign access tokens."""


@signing_keys.command("rotate")
def rotate() -> None:
    """Sign with a new key from now on; old public keys stay published until their tokens expire."""

    async def action(runtime: Runtime) -> None:
        publish_for = (max(runtime.settings.token_ttl, MAX_TOKEN_TTL) + DEFAULT_LEEWAY) * 1000
        kid, retired = await runtime.keyring.rotate(publish_for)
        await runtime.audit.record(
            "signing_key.rotated", "ok", None, detail={"kid": kid, "retired": retired}
        )
        click.echo(f"now signing with {kid}; retired {', '.join(retired) or 'none'}")

    with_runtime(action)
