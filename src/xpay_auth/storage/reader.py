"""The read path of the hot calls: one statement, one row, as few round trips as possible.

Why it exists: an API-key login and every bearer check each need one indexed read (the key
with its account; whether a revocation covers the token). Through the async engine such a
read costs several hops (pool checkout, BEGIN, execute, fetch, ROLLBACK), each a thread
hand-off with aiosqlite or a network round trip with asyncpg: measured here, about 2 ms
for ``SELECT 1`` either way, against 2 µs for SQLite itself.

What it gains (``bench/authenticate.py``, 2 workers; docs/performance.md): API-key logins
through the engine, with statements built once and AUTOCOMMIT reads, answered 1787
requests a second on SQLite and 714 on PostgreSQL; through these readers, 2175 (0.43 of
bare Starlette, against 0.34) and 1408 (0.28, against 0.13).

- SQLite: a read-only connection of the standard ``sqlite3`` driver, running the statements
  compiled once by SQLAlchemy, on a thread of its own (``storage.read_thread``): a read is a
  system call that can wait on the disk or on a busy database, and must not stall the event
  loop. The thread runs every read queued when it wakes and answers them in one hand-off.
- PostgreSQL: a small asyncpg pool of its own, running the statements (compiled once by
  SQLAlchemy) as prepared statements outside any transaction: one round trip a read, with
  none of the engine's per-call work (measured here: 0.3 ms against 1 ms for the engine in
  AUTOCOMMIT).

The one interface is :class:`Reader`; ``storage.database.Database`` builds it and hands it
to the repositories that read through it (API keys, revocations). Nothing outside storage
uses it. Every reader answers rows as mappings keyed by the statement's column labels.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy import Dialect, Executable, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.compiler import SQLCompiler

from xpay_auth.storage.read_thread import ReadThread

# A read that finds the database locked waits this long at most (on the read thread).
_SQLITE_READ_BUSY_MS = 1000
_PING = select(literal(1))


class Reader(Protocol):
    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any] | None: ...

    async def ping(self) -> None:
        """Raise unless the database can be reached and read now."""
        ...

    async def close(self) -> None: ...


class _CompiledStatements:
    """SQL text compiled once per statement by SQLAlchemy, for a driver used directly."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # Keyed by identity and holding the statement, so an id is never reused while cached.
        self._cache: dict[int, tuple[Executable, SQLCompiler]] = {}

    def compiled(self, statement: Executable) -> SQLCompiler:
        cached = self._cache.get(id(statement))
        if cached is None:
            compiler = statement.compile(dialect=self._dialect)  # type: ignore[attr-defined]
            cached = (statement, cast("SQLCompiler", compiler))
            self._cache[id(statement)] = cached
        return cached[1]


class SqliteReader:
    def __init__(self, url: str) -> None:
        self._path = make_url(url).database or ""
        dialect = sqlite.dialect(paramstyle="named")
        self._statements = _CompiledStatements(dialect)
        self._thread = ReadThread(self._connect, sqlite3.Connection.close)

    def _connect(self) -> sqlite3.Connection:
        # Called on the read thread, which alone uses the connection. Autocommit: every read
        # sees the latest commit. Read-only, so this connection can never write.
        connection = sqlite3.connect(self._path, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={_SQLITE_READ_BUSY_MS}")
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any] | None:
        compiled = self._statements.compiled(statement)
        sql = str(compiled)
        values = compiled.construct_params(params) or {}

        def read(connection: sqlite3.Connection) -> dict[str, Any] | None:
            cursor = connection.execute(sql, values)
            row = cursor.fetchone()
            if row is None:
                return None
            return dict(zip((column[0] for column in cursor.description), row, strict=True))

        try:
            return await self._thread.run(read)
        except sqlite3.Error as exc:
            # The HTTP layer answers a DBAPIError with 503, as for the engine's failures.
            raise OperationalError(sql, values, exc, hide_parameters=True) from exc

    async def ping(self) -> None:
        await asyncio.to_thread(self._ping)

    def _ping(self) -> None:
        # A fresh connection: an open one keeps reading a file that has been deleted or
        # replaced, and would report a database that is gone as healthy.
        connection = sqlite3.connect(f"file:{self._path}?mode=rw", uri=True, timeout=1)
        try:
            connection.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            connection.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._thread.close)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Pool release without asyncpg's reset: these connections only ever run reads."""


class AsyncpgReader:
    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
        self._statements = _CompiledStatements(dialect)

    async def _connections(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._max_size, reset=_keep_session
                    )
        return self._pool

    def _sql(
        self, statement: Executable, params: Mapping[str, Any] | None
    ) -> tuple[str, list[Any]]:
        compiled = self._statements.compiled(statement)
        values = compiled.construct_params(params) or {}
        return str(compiled), [values[name] for name in compiled.positiontup or ()]

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any] | None:
        sql, args = self._sql(statement, params)
        try:
            pool = await self._connections()
            record = await pool.fetchrow(sql, *args)
        except (
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            # A connection cut by a server restart in the middle of a read ends up here.
            asyncpg.InternalClientError,
            OSError,
            TimeoutError,
        ) as exc:
            # The HTTP layer answers a DBAPIError with 503, as for the engine's failures.
            raise OperationalError(sql, args, exc, hide_parameters=True) from exc
        return dict(record) if record is not None else None

    async def ping(self) -> None:
        await self.first(_PING)

    async def close(self) -> None:
        """Close the pool and forget it, so a later read opens a fresh one."""
        async with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def create_reader(url: str) -> Reader:
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteReader(url)
    return AsyncpgReader(url)
