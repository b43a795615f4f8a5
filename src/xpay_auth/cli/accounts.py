"""``xpay-auth users ...``"""

from __future__ import annotations

import sys

import click

from xpay_auth.cli.common import with_runtime
from xpay_auth.domain import KNOWN_SCOPES
from xpay_auth.runtime import Runtime
from xpay_auth.services import accounts, lockout


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.argument("username")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("tme_user",),
    show_default=True,
    help=f"A scope of the account ({', '.join(sorted(KNOWN_SCOPES))}); repeatable.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the account's password from standard input."
)
def create(username: str, scopes: tuple[str, ...], password_stdin: bool) -> None:  # noqa: FBT001
    """Create an account."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise click.ClickException("no password on standard input")

    async def action(runtime: Runtime) -> None:
        account = await accounts.create_account(
            runtime.services.accounts, username, scopes=scopes, password=password
        )
        click.echo(
            f"created {account.username} ({account.id}) with scopes {' '.join(account.scopes)}"
        )

    with_runtime(action)


@users.command("list")
def list_() -> None:
    """List accounts."""

    async def action(runtime: Runtime) -> None:
        page = await accounts.search_accounts(runtime.database.accounts, limit=10_000)
        for account in page.items:
            state = "disabled" if account.disabled else "active"
            password = "password" if account.password_hash else "no-password"
            click.echo(
                f"{account.username}\t{account.id}\t{' '.join(account.scopes)}\t{state}\t{password}"
            )

    with_runtime(action)


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account: its sessions and API keys stop working at once."""

    async def action(runtime: Runtime) -> None:
        account = await accounts.require_account(runtime.database.accounts, username)
        await accounts.set_disabled(runtime.services.accounts, account, disabled=True)
        click.echo(f"disabled {account.username}; its sessions and keys are revoked")

    with_runtime(action)


@users.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Re-enable password login after too many wrong passwords (API keys are never locked)."""

    async def action(runtime: Runtime) -> None:
        account = await accounts.require_account(runtime.database.accounts, username)
        await lockout.unlock_password(runtime.services.lockout, account)
        click.echo(
            f"unlocked {account.username}: password login allowed again "
            f"({account.failed_password_attempts} failed attempts cleared)"
        )

    with_runtime(action)
