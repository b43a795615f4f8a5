"""Key self-service, address allow-lists and introspection against a real server process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tests.envelopes import failure, success
from tests.plain_http import HTTP
from tests.support import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import Server

USER = "dana@example.com"


def _refused(server: Server, secret: str) -> bool:
    body = {"username": USER, "secretKey": secret, "isAPI": "true"}
    return bool(failure(server.post("/client/authenticate", body))["data"] == {"invalid": True})


def _create(server: Server, token: str, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = success(
        server.post("/client/keys/create", {"name": "e2e", **body}, token=token)
    )
    return data


def test_keys_over_http_honour_address_allow_lists(server: Server) -> None:
    """From 127.0.0.1 a key for 127.0.0.0/8 logs in and a key for 10.0.0.0/8 does not."""
    server.create_user(USER, "tme_user", password=PASSWORD)
    token = server.login(USER, PASSWORD, is_api=False)["access_token"]
    local = _create(server, token, allowedCidrs=["127.0.0.0/8", "::1/128"])
    remote = _create(server, token, allowedCidrs=["10.0.0.0/8"])
    assert server.login(USER, local["secretKey"])["user"]["isAPI"] is True
    assert _refused(server, remote["secretKey"])
    # Last use is committed with the login's session, before the login is answered.
    items = success(server.post("/client/keys/search", {"sort": "createdAt"}, token=token))
    used = {item["id"]: item["lastUsedAt"] for item in items["items"]}
    assert used[local["id"]] is not None
    assert used[remote["id"]] is None


def test_rotation_revocation_and_introspection_over_http(server: Server) -> None:
    """A rotated key keeps its old secret for the grace period; introspection sees revocations."""
    server.create_user(USER, "tme_user", password=PASSWORD)
    server.create_user("gateway@example.com", "tme_introspect")
    gateway = server.create_key("gateway@example.com")["secretKey"]
    introspector = server.login("gateway@example.com", gateway)["access_token"]
    token = server.login(USER, PASSWORD, is_api=False)["access_token"]
    key = _create(server, token)
    body = {"id": key["id"], "graceSeconds": 1}
    rotated = success(server.post("/client/keys/rotate", body, token=token))
    session = server.login(USER, key["secretKey"])["access_token"]
    assert server.login(USER, rotated["secretKey"])["user"]["isAPI"] is True
    time.sleep(max(0.0, rotated["previousSecretExpiresAt"] / 1000 - time.time()) + 0.3)
    assert _refused(server, key["secretKey"])

    def introspect(candidate: str) -> dict[str, Any]:
        response = HTTP.post(
            f"{server.base_url}/oauth/introspect",
            data={"token": candidate},
            headers={"Authorization": f"Bearer {introspector}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        verdict: dict[str, Any] = response.json()
        return verdict

    assert introspect(session)["client_id"] == key["id"]
    success(server.post("/client/keys/revoke", {"id": key["id"]}, token=token))
    assert introspect(session) == {"active": False}
    assert _refused(server, rotated["secretKey"])
