"""The authenticate call in-process, on every database."""

from __future__ import annotations

import re

from tests.support import PASSWORD, Harness


def test_api_key_login_returns_the_contract_shape(harness: Harness) -> None:
    """A valid API key buys a token, a 32-hex ticket and expiresAt equal to exp * 1000."""
    harness.create_user("alice@example.com")
    _, secret = harness.create_key("alice@example.com")
    data = harness.login("  Alice@Example.com ", secret, is_api="TRUE")
    assert data["success"] is True
    assert data["user"] == {"username": "alice@example.com", "scopes": ["tme_user"], "isAPI": True}
    assert re.fullmatch(r"[0-9a-f]{32}", data["ticket"])
    claims = harness.runtime.verifier.verify(data["access_token"])
    assert claims.expires_at * 1000 == data["expiresAt"]
    assert claims.ticket == data["ticket"]


def test_password_login_and_logout(harness: Harness) -> None:
    """A password login's token works until logout, then answers 401."""
    harness.create_user("bob@example.com", password=PASSWORD)
    token = harness.token_for_password("bob@example.com")
    assert harness.post("/client/session", token=token).status_code == 200
    assert harness.post("/client/logout", token=token).status_code == 200
    response = harness.post("/client/session", token=token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["message"]
