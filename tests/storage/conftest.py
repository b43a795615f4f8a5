"""The storage suite runs every test on every backend, so the backends are proven equal."""

from __future__ import annotations

import pytest

from tests.conftest import BACKENDS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture in ("database_url", "empty_database_url"):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, BACKENDS, indirect=True)
