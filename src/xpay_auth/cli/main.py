"""The ``xpay-auth`` entry point."""

from __future__ import annotations

import click

from xpay_auth import __version__
from xpay_auth.cli.accounts import users
from xpay_auth.cli.audit import audit_group
from xpay_auth.cli.keys import keys, signing_keys
from xpay_auth.cli.serve import db, serve


@click.group()
@click.version_option(__version__, prog_name="xpay-auth")
def cli() -> None:
    """xpay-auth: API keys, passwords and signed access tokens for the xpay API.

    Settings come from XPAY_AUTH_* environment variables (see docs/configuration.md).
    """


cli.add_command(serve)
cli.add_command(db)
cli.add_command(users)
cli.add_command(keys)
cli.add_command(signing_keys)
cli.add_command(audit_group)
