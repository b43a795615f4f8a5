"""Assertions on the contract's envelope, and helpers for bearer-call tests."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.services import api_keys, audit
from xpay_auth.services.audit import AuditEntry, AuditQuery

if TYPE_CHECKING:
    from tests.support import Harness
    from xpay_auth.runtime import Runtime

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
# Text that only a leaked password hash or a leaked key secret would put in a response.
_SECRET_MARKERS = ("$argon2", "xpsk_", "secret_hash", "password_hash", "secretHash", "passwordHash")


class Response(Protocol):
    """What the tests read of a response, from the in-process client or a real one."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Any: ...
    def json(self) -> Any: ...


def fresh_uuid() -> str:
    return str(uuid.uuid4())


def success(response: Response, request_id: str | None = None) -> Any:
    """The ``data`` of a success envelope (HTTP 200), after checking its shape."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "uuid"}, body
    assert UUID4.fullmatch(body["uuid"])
    if request_id is not None:
        assert body["uuid"] == request_id
    assert isinstance(body["success"]["message"], str)
    assert body["success"]["message"]
    assert set(body["success"]) == {"message", "data"}
    return body["success"]["data"]


def failure(response: Response, status: int = 200, request_id: str | None = None) -> Any:
    """The ``error`` object of an error envelope with ``status``, after checking its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "uuid"}, body
    assert UUID4.fullmatch(body["uuid"])
    if request_id is not None:
        assert body["uuid"] == request_id
    error = body["error"]
    assert set(error) == {"message", "data", "tag"}
    assert UUID4.fullmatch(error["tag"])
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def refused_field(response: Response, field: str) -> str:
    """The reason of a business error naming ``field``."""
    error = failure(response)
    assert error["data"]["field"] == field, error
    reason: str = error["data"]["reason"]
    return reason


def assert_no_secret_material(response: Response, *, allowed_secret: str | None = None) -> None:
    """No hash and no key secret in the body, except the one secret this call issues."""
    text = response.text
    if allowed_secret is not None:
        assert text.count("xpsk_") >= 1
        text = text.replace(allowed_secret, "")
    # A key's public prefix ("xpsk_<id>") is shown on purpose; a secret is longer.
    text = re.sub(r'"prefix":"xpsk_[0-9a-f]{16}"', "", text)
    for marker in _SECRET_MARKERS:
        assert marker not in text, f"{marker!r} in {response.text[:500]}"


def expired_token(harness: Harness, account_id: str, username: str, scopes: tuple[str, ...]) -> str:
    """A correctly signed dashboard token that expired an hour ago."""
    now = int(time.time())
    return harness.runtime.issuer.issue(
        subject=account_id,
        username=username,
        scopes=scopes,
        ticket=secrets.token_hex(16),
        client_id=DASHBOARD_CLIENT_ID,
        issued_at=now - 7200,
        expires_at=now - 3600,
    )


def audit_events(harness: Harness, event: str) -> list[AuditEntry]:
    """The recorded events named ``event``, newest first."""
    entries, _ = harness.run(
        lambda runtime: audit.search(runtime.database.audit, AuditQuery(event=event))
    )
    return entries


def revoke_key(harness: Harness, key_id: str) -> None:
    """Revoke a key through the service, as the CLI does."""

    async def action(runtime: Runtime) -> None:
        await api_keys.revoke_key(
            runtime.services.keys, await api_keys.require_key(runtime.database.api_keys, key_id)
        )

    harness.run(action)
