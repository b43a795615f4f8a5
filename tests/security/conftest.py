"""The security tests attack both the in-process app and real server processes."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import server, server_factory

__all__ = ["server", "server_factory"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/security/" in str(item.fspath) and {"server", "server_factory", "real_server"} & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.e2e)
