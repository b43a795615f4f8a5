"""Every storage failure answers 503 with Retry-After, and repeats are logged once a while."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from sqlalchemy.exc import OperationalError

from xpay_auth import contract
from xpay_auth.contract import error_response
from xpay_auth.errors import (
    STORAGE_RETRY_AFTER,
    InternalError,
    InvalidCredentials,
    StorageUnavailable,
)
from xpay_auth.http.endpoint import as_error
from xpay_auth.logs import RepeatLimiter

# What a PostgreSQL server that stops does to the connections of a pool, as asyncpg and
# SQLAlchemy raise it: some wrapped in a DBAPIError, some not.
_STOPPING_SERVER = [
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    asyncpg.InternalClientError("cannot switch to state 12; another operation is in progress"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connect call failed"),
    OperationalError("SELECT 1", None, ConnectionResetError(104, "reset")),
]


def _wrapped(cause: BaseException) -> RuntimeError:
    """``cause`` as the cause of another error, as a pool's cleanup can raise it."""
    outer = RuntimeError("connection lost while returning it to the pool")
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize("exc", _STOPPING_SERVER, ids=lambda exc: type(exc).__name__)
def test_a_server_stopping_answers_503_with_retry_after_not_500(exc: Exception) -> None:
    """Admin shutdown, refused or reset connections and closed pools are all 503 + Retry-After."""
    for raised in (exc, _wrapped(exc)):
        error = as_error("rid", raised, path="/client/authenticate")
        assert isinstance(error, StorageUnavailable), raised
        response = error_response("rid", error, path="/client/authenticate")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(STORAGE_RETRY_AFTER)


def test_an_unexpected_error_is_still_500() -> None:
    """A bug that is not the database's stays a 500."""
    assert isinstance(as_error("rid", KeyError("x"), path="/"), InternalError)


def test_identical_server_failures_are_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 identical 503s within the interval write one line; the next line counts the rest."""
    moment = [0.0]
    limiter = RepeatLimiter(10.0, clock=lambda: moment[0])
    monkeypatch.setattr(contract, "server_failures", limiter)
    with caplog.at_level(logging.INFO, logger="xpay_auth"):
        for index in range(1000):
            moment[0] = index * 0.005
            error_response("rid", StorageUnavailable(detail="AdminShutdownError"), path="/a")
        error_response("rid", StorageUnavailable(detail="ConnectionRefusedError"), path="/a")
        moment[0] = 10.0
        error_response("rid", StorageUnavailable(detail="AdminShutdownError"), path="/a")
    lines = [record for record in caplog.records if record.getMessage() == "request.failed"]
    assert [(line.__dict__["detail"], line.__dict__["repeated"]) for line in lines] == [
        ("AdminShutdownError", 0),
        ("ConnectionRefusedError", 0),
        ("AdminShutdownError", 999),
    ]


def test_refusals_below_500_are_each_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Refusals below 500 carry a tag a client may quote, so none of them is held back."""
    with caplog.at_level(logging.INFO, logger="xpay_auth"):
        for _ in range(50):
            error_response("rid", InvalidCredentials(detail="wrong secret"), path="/a")
    assert len([r for r in caplog.records if r.getMessage() == "request.failed"]) == 50


def test_the_limiter_remembers_a_bounded_number_of_kinds() -> None:
    """Failures of many different kinds cannot grow its memory without bound."""
    limiter = RepeatLimiter(10.0, clock=lambda: 0.0, max_kinds=3)
    for kind in range(10):
        limiter.admit(kind)
    assert limiter.admit(0) == 0  # forgotten, so written again
    assert limiter.admit(9) is None
