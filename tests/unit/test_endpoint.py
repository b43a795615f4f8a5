"""The endpoint wrapper: unexpected failures still answer in the envelope, details logged."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError

from xpay_auth.http import client_routes

if TYPE_CHECKING:
    import pytest

    from tests.support import Harness

BODY = {"username": "a@example.com", "secretKey": "s", "isAPI": True}


def test_unexpected_exception_is_a_500_envelope_without_details(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug answers 500 in the envelope; its detail and traceback go to the log under the tag."""

    async def broken(*_: Any) -> Any:
        raise RuntimeError("internal detail 7f3a")

    monkeypatch.setattr(client_routes, "authenticate", broken)
    request_id = str(uuid.uuid4())
    with caplog.at_level(logging.INFO, logger="xpay_auth"):
        response = harness.post("/client/authenticate", BODY, headers={"uuid": request_id})
    assert response.status_code == 500
    body = response.json()
    assert body["uuid"] == request_id
    assert body["error"]["message"] == "internal error"
    assert "7f3a" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if getattr(r, "tag", None) == body["error"]["tag"]]
    assert "internal detail 7f3a" in record.__dict__["detail"]
    assert record.exc_info is not None


def test_database_error_is_a_503_envelope(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database failure during a call answers 503 storage unavailable in the envelope."""

    async def unavailable(*_: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(client_routes, "authenticate", unavailable)
    response = harness.post("/client/authenticate", BODY)
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "storage unavailable"
    assert "connection refused" not in response.text
