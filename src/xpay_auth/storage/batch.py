"""One transaction for a whole batch of new rows: sessions, key last-use and audit events.

The group committer (``components.committer``) hands every batch here. Each store writes the
batch atomically, all of it or none of it, and answers only once it is committed:

- SQLite: one connection of the standard ``sqlite3`` driver on a thread of its own (so the
  event loop keeps taking requests while the file is written), ``BEGIN IMMEDIATE``, one
  ``executemany`` per table, ``COMMIT``. In WAL mode with ``synchronous=NORMAL`` a commit
  survives a crash of the process; ``FULL`` also syncs the log to disk at every commit, so
  that it survives a power loss too (``XPAY_AUTH_SQLITE_SYNCHRONOUS``).
- PostgreSQL: one statement whose data-modifying parts insert every session, update every
  key's last use and insert every audit event from arrays (``unnest``): one round trip and
  one implicit transaction per batch, as a prepared statement.

A failure is raised as SQLAlchemy's ``OperationalError`` when the database is away or busy
(trying again later may succeed) and as its ``IntegrityError`` when the database refuses the
rows for their content, so that ``storage.failures.is_transient`` tells them apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from xpay_auth.domain import Session

# A commit that finds another process writing waits this long for it, off the event loop.
SQLITE_BUSY_MS = 10_000
# A batch that PostgreSQL has not committed by then fails with 503 rather than hang.
POSTGRES_COMMAND_TIMEOUT = 5.0

SESSION_COLUMNS = (
    "ticket",
    "account_id",
    "api_key_id",
    "is_api",
    "scopes",
    "client_ip",
    "created_at_ms",
    "expires_at_ms",
    "issued_at_s",
)
AUDIT_COLUMNS = (
    "at_ms",
    "event",
    "outcome",
    "username",
    "account_id",
    "key_id",
    "ticket",
    "client_ip",
    "request_uuid",
    "error_tag",
    "actor",
    "detail",
)


def session_values(session: Session) -> dict[str, Any]:
    """A session as the columns of its row."""
    return {
        "ticket": session.ticket,
        "account_id": session.account_id,
        "api_key_id": session.api_key_id,
        "is_api": session.is_api,
        "scopes": " ".join(session.scopes),
        "client_ip": session.client_ip,
        "created_at_ms": session.created_at_ms,
        "expires_at_ms": session.expires_at_ms,
        "issued_at_s": session.issued_at_s,
    }


@dataclass(slots=True)
class Batch:
    """New rows to be written together: all of them or none."""

    sessions: list[Session] = field(default_factory=list)
    audit: list[Mapping[str, Any]] = field(default_factory=list)
    # Key id -> last use (ms); a key's time only ever moves forward.
    last_use: dict[str, int] = field(default_factory=dict)

    def add(self, other: Batch) -> None:
        self.sessions.extend(other.sessions)
        self.audit.extend(other.audit)
        for key_id, used_at in other.last_use.items():
            self.last_use[key_id] = max(used_at, self.last_use.get(key_id, 0))

    def __len__(self) -> int:
        return len(self.sessions) + len(self.audit) + len(self.last_use)


class BatchStore(Protocol):
    # How many batches may be written at the same time.
    lanes: int

    async def write(self, batch: Batch) -> None:
        """Commit every row of ``batch`` in one transaction, or raise and commit none."""
        ...

    async def close(self) -> None: ...


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{column}" for column in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608  names are constants


_SQLITE_SESSIONS = _insert("sessions", SESSION_COLUMNS)
_SQLITE_AUDIT = _insert("audit_events", AUDIT_COLUMNS)
_SQLITE_LAST_USE = (
    "UPDATE api_keys SET last_used_at_ms = :used_at_ms"
    " WHERE id = :id AND (last_used_at_ms IS NULL OR last_used_at_ms < :used_at_ms)"
)


class SqliteBatchStore:
    lanes = 1  # SQLite has one writer at a time

    def __init__(self, url: str, *, synchronous: str = "NORMAL") -> None:
        self._path = make_url(url).database or ""
        self._synchronous = synchronous
        # One thread owns the connection: commits are serial per process anyway.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xpay-auth-commit")
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute("PRAGMA foreign_keys=ON")
            self._connection = connection
        return self._connection

    def _write(self, batch: Batch) -> None:
        connection = self._connect()
        # IMMEDIATE takes the write lock up front, waiting (busy_timeout) for another
        # worker's commit to end, instead of failing when a read turns into a write.
        connection.execute("BEGIN IMMEDIATE")
        try:
            if batch.sessions:
                connection.executemany(
                    _SQLITE_SESSIONS, [session_values(item) for item in batch.sessions]
                )
            if batch.last_use:
                connection.executemany(
                    _SQLITE_LAST_USE,
                    [{"id": key, "used_at_ms": at} for key, at in sorted(batch.last_use.items())],
                )
            if batch.audit:
                connection.executemany(
                    _SQLITE_AUDIT,
                    [{column: row.get(column) for column in AUDIT_COLUMNS} for row in batch.audit],
                )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    async def write(self, batch: Batch) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._write, batch)
        except (
            sqlite3.IntegrityError,
            sqlite3.DataError,
            sqlite3.InterfaceError,
            sqlite3.ProgrammingError,
        ) as exc:
            raise IntegrityError("batch", None, exc) from exc
        except sqlite3.Error as exc:
            # Locked past the busy timeout, disk full or I/O: the file may take it later.
            raise OperationalError("batch", None, exc) from exc

    async def close(self) -> None:
        if self._connection is None:
            self._thread.shutdown(wait=True)
            return

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)


# Each part takes its rows from arrays, one array a column: a batch of any size is one
# statement with a fixed text, prepared once per connection.
_POSTGRES_BATCH = """
WITH new_sessions AS (
  INSERT INTO sessions (ticket, account_id, api_key_id, is_api, scopes, client_ip,
                        created_at_ms, expires_at_ms, issued_at_s)
  SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::boolean[],
                       $5::varchar[], $6::varchar[], $7::bigint[], $8::bigint[], $9::bigint[])
), key_use AS (
  UPDATE api_keys SET last_used_at_ms = used.at_ms
  FROM unnest($10::varchar[], $11::bigint[]) AS used(id, at_ms)
  WHERE api_keys.id = used.id AND (api_keys.last_used_at_ms IS NULL
                                   OR api_keys.last_used_at_ms < used.at_ms)
)
INSERT INTO audit_events (at_ms, event, outcome, username, account_id, key_id, ticket,
                          client_ip, request_uuid, error_tag, actor, detail)
SELECT * FROM unnest($12::bigint[], $13::varchar[], $14::varchar[], $15::varchar[],
                     $16::varchar[], $17::varchar[], $18::varchar[], $19::varchar[],
                     $20::varchar[], $21::varchar[], $22::varchar[], $23::text[])
"""


def _postgres_arguments(batch: Batch) -> list[list[Any]]:
    sessions = [session_values(item) for item in batch.sessions]
    used = sorted(batch.last_use.items())
    return [
        *([row[column] for row in sessions] for column in SESSION_COLUMNS),
        [key for key, _ in used],
        [at for _, at in used],
        *([row.get(column) for row in batch.audit] for column in AUDIT_COLUMNS),
    ]


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Pool release without asyncpg's reset: these connections only run the batch."""


class PostgresBatchStore:
    # Two batches in flight: one fills while the other commits (PostgreSQL flushes
    # concurrent commits together), without a third connection per worker.
    lanes = 2

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def _connections(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self.lanes,
                        reset=_keep_session,
                        command_timeout=POSTGRES_COMMAND_TIMEOUT,
                        timeout=POSTGRES_COMMAND_TIMEOUT,
                    )
        return self._pool

    async def write(self, batch: Batch) -> None:
        arguments = _postgres_arguments(batch)
        try:
            pool = await self._connections()
            await pool.execute(_POSTGRES_BATCH, *arguments)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            # Class 23 and 22: these rows can never be written as they are.
            raise IntegrityError("batch", None, exc) from exc
        except (
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
            OSError,
            TimeoutError,
        ) as exc:
            raise OperationalError("batch", None, exc) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def create_batch_store(url: str, *, sqlite_synchronous: str = "NORMAL") -> BatchStore:
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteBatchStore(url, synchronous=sqlite_synchronous)
    return PostgresBatchStore(url)
