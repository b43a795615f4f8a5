"""Shared fixtures: a fresh, migrated database per test, on SQLite or PostgreSQL.

PostgreSQL tests run against ``XPAY_AUTH_TEST_POSTGRES_URL`` (default: the local server).
Outside CI they skip, saying why, when no server answers; in CI (``CI=true``) or with
``XPAY_AUTH_TEST_REQUIRE_SERVICES=1`` they fail instead, so they can never silently vanish.
"""

from __future__ import annotations

import asyncio
import functools
import graphlib
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support import Harness, running_app
from xpay_auth import contract
from xpay_auth.logs import RepeatLimiter
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


# What a lent database must still look like to be emptied and lent again: its tables, columns,
# indexes, triggers, functions and migration revision.
SCHEMA_FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', table_name, column_name, data_type, column_default,
                               is_nullable), ',' ORDER BY table_name, column_name)
     FROM information_schema.columns WHERE table_schema = 'public'),
  (SELECT string_agg(indexdef, ',' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'),
  (SELECT string_agg(version_num, ',') FROM alembic_version)))
"""


class PostgresDatabases:
    """Lends each test a migrated database: a copy of a template, emptied and lent again after.

    ``DROP DATABASE`` forces a checkpoint on the server (most of a second under load), so a
    database is emptied between tests instead, unless its test changed the schema, in which
    case it is dropped. Emptying deletes the rows, children before parents, and restarts the
    sequences: on tables of a few rows that costs the server 12 ms of CPU where ``TRUNCATE``,
    which makes new files for every table and index, costs 38.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        base = make_url(admin_url).database or "postgres"
        self.prefix = f"{base}_t{RUN_ID}"[:40]
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []
        self._count = 0
        self._free: list[str] = []
        self._fingerprint = ""
        self._emptying = ""

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
        self._fingerprint, self._emptying = asyncio.run(self._read_template(self.template))

    async def _read_template(self, name: str) -> tuple[str, str]:
        """The template's fingerprint, and the statements that empty a copy of it."""
        conn = await asyncpg.connect(_asyncpg_dsn(self.url_for(name)), timeout=5)
        try:
            fingerprint = str(await conn.fetchval(SCHEMA_FINGERPRINT))
            tables = await conn.fetch(
                "SELECT oid::regclass::text AS name FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace AND relname <> 'alembic_version'"
            )
            references = await conn.fetch(
                "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
                " FROM pg_constraint WHERE contype = 'f'"
                " AND connamespace = 'public'::regnamespace"
            )
        finally:
            await conn.close()
        # A table comes after every table that refers to it, so no delete breaks a reference.
        order = graphlib.TopologicalSorter[str]({row["name"]: set() for row in tables})
        for row in references:
            order.add(row["parent"], row["child"])
        # The names come from the catalog, quoted where needed by ``regclass``.
        statements = [f"DELETE FROM {table}" for table in order.static_order()]  # noqa: S608
        statements.append(
            "SELECT setval(oid, 1, false) FROM pg_class"
            " WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
        )
        return fingerprint, ";\n".join(statements)

    def lend_database(self) -> str:
        """A migrated database without rows, for one test; give it back with ``give_back``."""
        if self._free:
            return self.url_for(self._free.pop())
        return self.new_database()

    def give_back(self, url: str) -> None:
        """Empty a lent database for the next test, or drop it if its schema was changed."""
        name = make_url(url).database or ""
        try:
            reusable = asyncio.run(self._empty(name))
        except (OSError, asyncpg.PostgresError):
            reusable = False
        if reusable:
            self._free.append(name)
        else:
            self.drop(name)

    async def _empty(self, name: str) -> bool:
        conn = await asyncpg.connect(_asyncpg_dsn(self.url_for(name)), timeout=5)
        try:
            if await conn.fetchval(SCHEMA_FINGERPRINT) != self._fingerprint:
                return False
            # A server process killed mid-test may leave a session behind; end it.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute("SET lock_timeout = '5s'")
            await conn.execute(self._emptying)
            return True
        finally:
            await conn.close()

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


# The storage suite (tests/storage) runs on every backend: it is what proves them equal. The
# rest of the suite exercises the service above storage and runs once, on the backend below.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
every_backend = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def service_backend() -> str:
    """``XPAY_AUTH_TEST_BACKEND`` if set, else PostgreSQL where it runs (always in CI)."""
    chosen = os.environ.get("XPAY_AUTH_TEST_BACKEND", "")
    if chosen in ("sqlite", "postgres"):
        return chosen
    if chosen:
        pytest.fail(f"XPAY_AUTH_TEST_BACKEND must be sqlite or postgres, not {chosen!r}")
    return "postgres" if services_required() or _postgres_answers() else "sqlite"


@functools.cache
def _postgres_answers() -> bool:
    try:
        with socket.create_connection(_postgres_address(), timeout=1):
            return True
    except OSError:
        return False


def _postgres_address() -> tuple[str, int]:
    url = make_url(postgres_admin_url())
    return url.host or "127.0.0.1", url.port or 5432


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database for this test alone.

    On the service backend unless the test is parametrized over ``BACKENDS`` (``every_backend``,
    and every test of the storage suite).
    """
    backend = getattr(request, "param", None) or service_backend()
    if backend == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.lend_database()
    yield url
    databases.give_back(url)


@pytest.fixture(scope="module")
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database of the service backend, shared by one module's tests."""
    if service_backend() == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "xpay-auth.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.lend_database()
    yield url
    databases.give_back(url)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any schema (migration and CLI tests), on the backend as above."""
    backend = getattr(request, "param", None) or service_backend()
    if backend == "sqlite":
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
    """The real app in-process, on a fresh database of the service backend."""
    with running_app(settings) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_failure_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no server failure logged yet, so none of its lines is held back
    as a repeat of another test's."""
    monkeypatch.setattr(contract, "server_failures", RepeatLimiter(contract.REPEAT_LOG_INTERVAL))


# Figures a test measured (how many acknowledged logins it checked, ...), printed at the end
# of the run whatever the capture mode, so that CI's output shows them. They travel as user
# properties of the test's report, which pytest-xdist carries from its workers; the hooks sit
# here, not in tests/e2e, because the xdist controller collects nothing and loads only this file.
_FIGURES: list[str] = []


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Keep a line for the run's closing summary, named after the test that made it."""

    def keep(line: str) -> None:
        request.node.user_properties.append(("measured", line))

    return keep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _FIGURES.extend(str(value) for name, value in report.user_properties if name == "measured")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("measured")
        for line in _FIGURES:
            terminalreporter.write_line(line)


# Tests that start server processes, browsers or services take seconds each; the in-process
# ones take milliseconds. pytest-xdist's worksteal scheduler (scripts/test) first hands each
# worker an equal run of consecutive tests, then lets an idle worker steal the back half of
# the longest queue. The tests are laid out for that: each worker's run starts with its share
# of the long tests (marked ``slow``), then whole modules of process-starting tests, so that a
# module-scoped server starts on one worker only, then in-process tests, the ones stolen.
_PROCESS_FIXTURES = frozenset(
    {"server", "server_factory", "shared_server", "page", "live", "real_server", "target"}
)
_PROCESS_FOLDERS = ("/e2e/", "/browser/")
_SLOW, _PROCESS, _IN_PROCESS = 0, 1, 2
# Rough seconds of a worker's time, to share the long tests out evenly.
_COST = {_SLOW: 10.0, _PROCESS: 1.5, _IN_PROCESS: 0.05}


def _start_order(item: pytest.Item) -> int:
    if item.get_closest_marker("slow"):
        return _SLOW
    starts_processes = any(folder in str(item.path) for folder in _PROCESS_FOLDERS)
    if starts_processes or not _PROCESS_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return _PROCESS
    return _IN_PROCESS


def _first_runs(count: int, workers: int) -> list[int]:
    """How many tests worksteal hands each worker first: what is left, over the workers left."""
    sizes: list[int] = []
    for left in range(workers, 0, -1):
        sizes.append((count - sum(sizes)) // left)
    return sizes


def _lay_out(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The tests in the order that gives each worker's first run an even share of the work."""
    sizes = _first_runs(len(items), workers)
    runs: list[list[pytest.Item]] = [[] for _ in sizes]
    work = [0.0] * workers
    groups: dict[tuple[int, object], list[pytest.Item]] = {}
    for item in sorted(items, key=_start_order):
        kind = _start_order(item)
        # A long test goes alone; other process-starting tests go with their module.
        key = (kind, id(item) if kind == _SLOW else item.path)
        groups.setdefault(key, []).append(item)
    # Longest first, each to the least loaded run: the long tests, then the largest modules.
    spread = sorted(
        ((kind, group) for (kind, _), group in groups.items() if kind != _IN_PROCESS),
        key=lambda entry: (entry[0], -len(entry[1])),
    )
    for kind, group in spread:
        chosen = -1
        for item in group:
            # The run that took the group's first tests while it has room, else the least loaded.
            if chosen < 0 or len(runs[chosen]) >= sizes[chosen]:
                open_runs = [i for i in range(workers) if len(runs[i]) < sizes[i]]
                chosen = min(open_runs, key=work.__getitem__)
            runs[chosen].append(item)
            work[chosen] += _COST[kind]
    rest = iter(
        item for (kind, _), group in groups.items() if kind == _IN_PROCESS for item in group
    )
    for run, size in zip(runs, sizes, strict=True):
        run.extend(next(rest) for _ in range(size - len(run)))
    return [item for run in runs for item in run]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Set by pytest-xdist in each worker; every worker computes the same order.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = _lay_out(items, workers) if workers > 1 else sorted(items, key=_start_order)
