"""Shared fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL tests run against ``XPAY_AUTH_TEST_POSTGRES_URL`` (default: the local server).
Outside CI they skip, saying why, when no server answers; in CI (``CI=true``) or with
``XPAY_AUTH_TEST_REQUIRE_SERVICES=1`` they fail instead, so they can never silently vanish.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support import Harness, running_app
from xpay_auth.settings import Argon2Profile, Settings
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"


def services_required() -> bool:
    return (
        os.environ.get("CI") == "true" or os.environ.get("XPAY_AUTH_TEST_REQUIRE_SERVICES") == "1"
    )


def postgres_admin_url() -> str:
    return os.environ.get("XPAY_AUTH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def unavailable(reason: str) -> None:
    """Skip outside CI; fail in CI, where every service must be there."""
    if services_required():
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates one database per test from a migrated template (fast: a file copy)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        base = make_url(admin_url).database or "postgres"
        self.prefix = f"{base}_t{RUN_ID}"[:40]
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []
        self._count = 0

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(self.admin_url), timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def setup_template(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.template}"'))
        self.created.append(self.template)
        asyncio.run(_migrate(self.url_for(self.template)))

    def new_database(self) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return self.url_for(name)

    def new_empty_database(self) -> str:
        """A database without any schema (from template0), for migration tests."""
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        self.created.append(name)
        return self.url_for(name)

    def drop(self, name: str) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.drop(name)


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_admin_url())
    try:
        databases.setup_template()
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {postgres_admin_url()}: {exc}")
    yield databases
    databases.drop_all()


# Every database test runs on each backend; PostgreSQL ones carry the `postgres` marker.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this test alone, on each backend."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.new_database()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any schema, on each backend (migration and CLI tests)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.new_empty_database()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database, for tests that need only one backend."""
    path = tmp_path / "xpay-auth.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
        "argon2_profile": Argon2Profile.TESTING,
        "flush_interval": 0.05,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def harness(settings: Settings) -> Iterator[Harness]:
    """The real app in-process, on a fresh database of each backend."""
    with running_app(settings) as running:
        yield running
