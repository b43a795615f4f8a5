"""Gateway forward-auth (``/auth/verify``) in-process, on every database."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from tests.support import Harness

UUID4 = "0f8fad5b-d9cb-469f-a165-70867728950e"


def verify(harness: Harness, token: str | None, *, method: str = "GET", **kwargs: Any) -> Any:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return harness.client.request(method, "/auth/verify", headers=headers, **kwargs)


def test_api_key_token_is_let_through_with_identity_headers(harness: Harness) -> None:
    """A valid API-key token gets 200 with X-Auth-User, -Scopes, -Ticket and -Key-Id."""
    harness.create_user("alice@example.com")
    key_id, secret = harness.create_key("alice@example.com")
    data = harness.login("alice@example.com", secret)
    response = verify(harness, data["access_token"], headers={"uuid": UUID4})
    assert response.status_code == 200
    assert response.headers["x-auth-user"] == "alice@example.com"
    assert response.headers["x-auth-scopes"] == "tme_user"
    assert response.headers["x-auth-ticket"] == data["ticket"]
    assert response.headers["x-auth-key-id"] == key_id
    body = response.json()
    assert body["uuid"] == UUID4
    assert body["success"]["data"]["ticket"] == data["ticket"]
    assert body["success"]["data"]["isAPI"] is True


def test_dashboard_token_has_no_key_id_header(harness: Harness) -> None:
    """A password session's token passes without an X-Auth-Key-Id header."""
    harness.create_user("bob@example.com")
    token = harness.token_for_password("bob@example.com")
    response = verify(harness, token, method="POST")
    assert response.status_code == 200
    assert "x-auth-key-id" not in response.headers
    assert response.json()["success"]["data"]["keyId"] is None


def test_body_is_never_read(harness: Harness) -> None:
    """A POST carrying a non-JSON body of any type is verified on its header alone."""
    harness.create_user("carol@example.com")
    token = harness.token_for_password("carol@example.com")
    response = verify(
        harness, token, method="POST", content=b"<xml/>", headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 200


def test_missing_and_bad_tokens_are_401_in_the_envelope(harness: Harness) -> None:
    """No token gets a bare Bearer challenge, a garbage token invalid_token; both 401 envelopes."""
    missing = verify(harness, None, headers={"uuid": UUID4})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert missing.json()["uuid"] == UUID4
    assert "x-auth-user" not in missing.headers
    garbage = verify(harness, "abc.def.ghi")
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert set(garbage.json()) == {"error", "uuid"}


def test_logged_out_token_is_refused_at_once(harness: Harness) -> None:
    """The database check makes a logout effective on the very next verify."""
    harness.create_user("dave@example.com")
    token = harness.token_for_password("dave@example.com")
    assert verify(harness, token).status_code == 200
    assert harness.post("/client/logout", token=token).status_code == 200
    assert verify(harness, token).status_code == 401


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("scope=tme_user", 200),
        ("scope=tme_admin", 403),
        ("scope=tme_user%20tme_admin", 403),
        ("scope=tme_user&scope=tme_admin", 403),
        ("scope=Bad!", 400),
        ("scope=" + "%20".join(f"s{i}" for i in range(9)), 400),
    ],
)
def test_scope_query_parameter_is_required_of_the_token(
    harness: Harness, query: str, status: int
) -> None:
    """?scope= names scopes the token must carry: 403 without them, 400 when malformed."""
    harness.create_user("erin@example.com")
    token = harness.token_for_password("erin@example.com")
    response = harness.client.get(
        f"/auth/verify?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["data"] == {"required": "tme_admin"}
        assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


def test_non_ascii_username_is_percent_encoded(harness: Harness) -> None:
    """A username outside ASCII travels percent-encoded, and decodes back to itself."""
    harness.create_user("jos\u00e9@example.com")
    token = harness.token_for_password("jos\u00e9@example.com")
    response = verify(harness, token)
    assert response.status_code == 200
    assert response.headers["x-auth-user"] == "jos%C3%A9@example.com"
    assert unquote(response.headers["x-auth-user"]) == "jos\u00e9@example.com"


def test_other_methods_are_405(harness: Harness) -> None:
    """Only GET (and HEAD) and POST are served."""
    response = harness.client.put("/auth/verify")
    assert response.status_code == 405
    assert set(response.json()) == {"error", "uuid"}
