"""The storage suite runs every test on every backend, so the backends are proven equal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import BACKENDS
from xpay_auth.storage.engine import create_engine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture in ("database_url", "empty_database_url"):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, BACKENDS, indirect=True)


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own without any schema, for the migration tests."""
    engine = create_engine(empty_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()
