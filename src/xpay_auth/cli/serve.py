"""``xpay-auth serve`` and ``xpay-auth db upgrade``."""

from __future__ import annotations

import json
import os
import shlex
import tempfile

import click
import uvicorn

from xpay_auth.cli.common import run, settings_or_exit
from xpay_auth.http.server_protocol import HeaderDeadlineProtocol
from xpay_auth.logs import configure_logging, log_event
from xpay_auth.metrics import MULTIPROCESS_ENV
from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts, api_keys
from xpay_auth.settings import Environment, Settings
from xpay_auth.storage import schema_revision
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.file_modes import check_secret_files

DEMO_USERNAME = "demo@xpay.test"
KEEP_ALIVE_SECONDS = 5


async def _upgrade(settings: Settings, *, unless_current: bool = False) -> None:
    """Apply the pending migrations; with ``unless_current``, load Alembic only if any are."""
    engine = create_engine(settings.database_url)
    try:
        if unless_current and await schema_revision.is_current(engine):
            return
        # Alembic loads only to migrate: see storage/schema_revision.py.
        from xpay_auth.storage.migrate import upgrade  # noqa: PLC0415

        await upgrade(engine)
    finally:
        await engine.dispose()


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = settings_or_exit()
    run(_upgrade(settings))
    click.echo("database schema is up to date")


async def _prepare(settings: Settings, *, demo: bool, host: str, port: int) -> str | None:
    """Migrate, make sure a signing key exists, and with ``demo`` seed a new database."""
    # Before the migration opens the database, so that an exposed file stops the start.
    check_secret_files(settings)
    await _upgrade(settings, unless_current=True)
    async with open_runtime(settings) as runtime:
        if not demo:
            return None
        page = await accounts.search_accounts(runtime.database.accounts, limit=1)
        if page.total:
            return (
                f"demo: the database already has accounts; make a key with "
                f"`xpay-auth keys create {DEMO_USERNAME}`"
            )
        account = await accounts.create_account(runtime.services.accounts, DEMO_USERNAME)
        issued = await api_keys.create_key(runtime.services.keys, account, name="demo")
    body = {"username": DEMO_USERNAME, "secretKey": issued.secret, "isAPI": "true"}
    curl = (
        f"curl 'http://{host}:{port}/client/authenticate' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  --data-raw {shlex.quote(json.dumps(body))}"
    )
    return (
        f"demo account {DEMO_USERNAME} created with an API key (shown once).\n"
        f"Get a token:\n\n{curl}\n"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo",
    is_flag=True,
    help="On a new database, create a demo account and key and print a curl command.",
)
def serve(host: str, port: int, workers: int, demo: bool) -> None:  # noqa: FBT001
    """Migrate the database and serve the API."""
    settings = settings_or_exit()
    if demo and settings.env is Environment.PRODUCTION:
        raise click.ClickException("--demo is refused when XPAY_AUTH_ENV=production")
    configure_logging(settings.log_level)
    message = run(_prepare(settings, demo=demo, host=host, port=port))
    if message:
        click.echo(message, err=True)
    if workers > 1 and not os.environ.get(MULTIPROCESS_ENV):
        # Workers are spawned with this environment: each writes its metrics there, and
        # /metrics on any worker sums them. A fresh folder: old counts must not leak in.
        os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="xpay-auth-metrics-")
    log_event("server.starting", host=host, port=port, workers=workers)
    uvicorn.run(
        "xpay_auth.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        # Slow clients: idle keep-alive connections close after 5 s (uvicorn's own timer);
        # request headers have XPAY_AUTH_HEADER_TIMEOUT seconds (server_protocol).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        http=HeaderDeadlineProtocol,
    )
