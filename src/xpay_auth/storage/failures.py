"""Telling a database that is away from a row that can never be written."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_transient(exc: BaseException) -> bool:
    """True when trying the same write again later may succeed (connection, lock, timeout)."""
    return isinstance(
        exc,
        OperationalError
        | InterfaceError
        | DisconnectionError
        | PoolTimeout
        | OSError
        | TimeoutError,
    )


def is_storage_failure(exc: BaseException) -> bool:
    """True when ``exc`` means the database could not answer: the call is answered 503."""
    return isinstance(exc, DBAPIError | PoolTimeout | ConnectionError)
