"""Direct access to a test database through the same code path the service opens it with."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tests.conftest import make_settings
from xpay_auth.runtime import open_runtime

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from xpay_auth.storage.database import Database


@asynccontextmanager
async def open_database(database_url: str) -> AsyncIterator[Database]:
    """The repositories of a migrated database, as a runtime builds them; closed on exit."""
    settings = make_settings(database_url)
    async with open_runtime(settings, ensure_signing_key=False) as runtime:
        yield runtime.database
