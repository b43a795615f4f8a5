"""The async engine for the configured database URL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from xpay_auth.storage.batch import SQLITE_BUSY_MS
from xpay_auth.storage.file_modes import create_private, sqlite_file

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """``sqlite:///f.db`` and ``postgresql://...`` mapped to their async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"XPAY_AUTH_DATABASE_URL: unsupported database {backend!r}; "
            "use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def _sqlite_pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the single writer; NORMAL is durable across process
        # crashes, FULL across power loss too; the busy timeout makes concurrent writers
        # (other workers, the group committer) wait instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def create_engine(
    url: str, *, pool_size: int = 10, sqlite_synchronous: str = "NORMAL"
) -> AsyncEngine:
    """The one way the service opens a database; every engine of the package comes from here.

    ``hide_parameters`` keeps bound values out of every SQLAlchemy error message: those
    values are argon2 hashes, key HMACs and encrypted signing keys, and a failed statement's
    message reaches the log with its traceback.
    """
    target = async_url(url)
    database_file = sqlite_file(url)
    if database_file is not None:
        # Created here, 0600, before SQLite opens it: SQLite would create it with the
        # process's umask (often world-readable), and gives the WAL files the same mode.
        create_private(database_file)
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "hide_parameters": True,
    }
    if target.startswith("sqlite"):
        # aiosqlite logs every statement with its bound values at DEBUG, whatever the
        # engine's settings; those values must never reach a log, at any level.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        engine = create_async_engine(target, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(sqlite_synchronous))
        return engine
    # No pre-ping: it would add a round trip to every checkout, and a dead connection
    # surfaces as a DBAPIError that the HTTP layer answers with 503 anyway.
    return create_async_engine(target, **options)
