"""Telling a database that is away from a row that can never be written.

SQLAlchemy wraps most driver errors in a ``DBAPIError``, but not all: asyncpg's own errors can
escape unwrapped while a connection is being opened, reset or closed, which is exactly when a
PostgreSQL server is stopping (``AdminShutdownError``, ``CannotConnectNowError``, a reset
socket). Both checks below therefore look at the exception and at what caused it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_MAX_CHAIN = 8

# The server or the connection went away: SQLSTATE classes 08 (connection exception) and
# 57 (operator intervention: admin shutdown, crash shutdown, cannot connect now).
# InternalClientError is asyncpg's protocol losing its state when a connection drops
# mid-query ("cannot switch to state 12; another operation is in progress").
_DRIVER_DISCONNECTS = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions that caused it, nearest first, at most a few deep."""
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


_TRANSIENT = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    TimeoutError,
    *_DRIVER_DISCONNECTS,
)
_STORAGE = (
    DBAPIError,
    PoolTimeout,
    DisconnectionError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    sqlite3.Error,
)


def is_transient(exc: BaseException) -> bool:
    """True when trying the same write again later may succeed (connection, lock, timeout)."""
    return any(isinstance(item, _TRANSIENT) for item in _chain(exc))


def is_storage_failure(exc: BaseException) -> bool:
    """True when ``exc`` came from the database or the way to it: answered 503, never 500."""
    return any(isinstance(item, _STORAGE) for item in _chain(exc))
