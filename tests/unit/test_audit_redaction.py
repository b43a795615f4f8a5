"""A secret pasted into the username field never reaches the audit trail."""

from __future__ import annotations

from typing import Any

from tests.support import Harness
from xpay_auth.runtime import Runtime
from xpay_auth.services.audit import AuditQuery


def test_a_pasted_api_secret_is_redacted_from_the_trail(harness: Harness) -> None:
    """Only the key's public prefix of a secret typed as a username is recorded."""
    harness.create_user("paste@example.com")
    key_id, secret = harness.create_key("paste@example.com")
    response = harness.post(
        "/client/authenticate", {"username": secret, "secretKey": secret, "isAPI": True}
    )
    assert response.json()["error"]["message"] == "invalid credentials"

    async def failed(runtime: Runtime) -> list[dict[str, Any]]:
        page = await runtime.database.audit.search(
            filters=AuditQuery(event="login.failed").filters(),
            since_ms=None,
            until_ms=None,
            offset=0,
            limit=10,
        )
        return page.items

    rows = harness.run(failed)
    assert [row["username"] for row in rows] == [f"xpsk_{key_id}_[redacted]"]
    assert all(secret.lower() not in str(row).lower() for row in rows)
