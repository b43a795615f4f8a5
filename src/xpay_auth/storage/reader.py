"""The read path of the hot calls: one statement, one row, as few round trips as possible.

Authenticate with an API key and every bearer check each need one indexed read. Through
the async engine such a read costs several hops (pool checkout, BEGIN, execute, fetch,
ROLLBACK), each a thread hand-off with aiosqlite or a network round trip with asyncpg:
measured here, about 2 ms for ``SELECT 1`` either way, against 2 µs for SQLite itself.

- SQLite: a read-only connection of the standard ``sqlite3`` driver is used directly on the
  event loop. A WAL reader never waits for the writer, and an indexed read takes
  microseconds, less than a thread hand-off would.
- PostgreSQL: the async engine in AUTOCOMMIT, so a read is one round trip, no BEGIN or
  ROLLBACK around it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Engine, Executable, Row, create_engine, event, literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

# A read that finds the database locked waits this long at most, on the event loop.
_SQLITE_READ_BUSY_MS = 200
_PING = select(literal(1))


class Reader(Protocol):
    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Row[Any] | None: ...

    async def ping(self) -> None:
        """Raise unless the database can be reached and read now."""
        ...

    async def close(self) -> None: ...


class AsyncReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Row[Any] | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(statement, params)).first()

    async def ping(self) -> None:
        await self.first(_PING)

    async def close(self) -> None:
        """The engine belongs to the database; nothing of its own to close."""


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_READ_BUSY_MS}")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


class SqliteReader:
    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite")
        # Reset on return is off: the connection only ever reads, in autocommit.
        self._engine: Engine = create_engine(
            sync_url,
            pool_size=1,
            max_overflow=4,
            pool_reset_on_return=None,
            isolation_level="AUTOCOMMIT",
        )
        event.listen(self._engine, "connect", _read_only)
        self._path = make_url(url).database or ""

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Row[Any] | None:
        with self._engine.connect() as conn:
            return conn.execute(statement, params).first()

    async def ping(self) -> None:
        # A fresh connection: pooled ones keep reading a file that has been deleted or
        # replaced, and would report a database that is gone as healthy.
        connection = sqlite3.connect(f"file:{self._path}?mode=rw", uri=True, timeout=1)
        try:
            connection.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            connection.close()

    async def close(self) -> None:
        self._engine.dispose()


def create_reader(url: str, engine: AsyncEngine) -> Reader:
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteReader(url)
    return AsyncReader(engine)
