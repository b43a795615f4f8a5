"""The read path's connections: closing a reader leaves it usable, on every database."""

from __future__ import annotations

import pytest

from xpay_auth.storage.reader import create_reader

pytestmark = pytest.mark.anyio


async def test_a_closed_reader_opens_fresh_connections_on_the_next_read(database_url: str) -> None:
    """``close()`` forgets its pool or connection, so a later read works instead of failing."""
    reader = create_reader(database_url)
    await reader.ping()
    await reader.close()
    await reader.ping()
    await reader.close()
    await reader.close()
