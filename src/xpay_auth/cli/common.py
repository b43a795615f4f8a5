"""What every command shares: settings, a runtime, and errors that say how to fix them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from xpay_auth.errors import XpayAuthError
from xpay_auth.runtime import Runtime, open_runtime
from xpay_auth.settings import Settings, SettingsError, load_settings
from xpay_auth.storage import schema_revision
from xpay_auth.storage.engine import create_engine

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except (ValidationError, SettingsError) as exc:
        raise click.ClickException(f"invalid settings: {exc}") from exc


async def _schema_is_current(settings: Settings) -> bool:
    engine = create_engine(settings.database_url)
    try:
        return await schema_revision.is_current(engine)
    finally:
        await engine.dispose()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    except XpayAuthError as exc:
        reason = exc.data.get("reason") if isinstance(exc.data, dict) else None
        raise click.ClickException(
            f"{exc.client_message}{f': {reason}' if reason else ''}"
        ) from exc


def with_runtime(action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``action`` against the configured database, which must be migrated."""
    settings = settings_or_exit()

    async def main() -> T:
        if not await _schema_is_current(settings):
            raise click.ClickException(
                "the database schema is not up to date: run `xpay-auth db upgrade` first"
            )
        async with open_runtime(settings) as runtime:
            return await action(runtime)

    return run(main())
