"""A real server answers the seed's call end to end."""

from __future__ import annotations

from tests.e2e.conftest import Server


def test_cli_key_logs_in_over_http(server: Server) -> None:
    """A key made with the CLI authenticates over HTTP with the seed's string "true"."""
    server.create_user("carol@example.com")
    key = server.create_key("carol@example.com", "--name", "ci")
    data = server.login("carol@example.com", key["secretKey"], is_api="true")
    assert data["user"]["username"] == "carol@example.com"
    session = server.post("/client/session", token=data["access_token"])
    assert session.json()["success"]["data"]["ticket"] == data["ticket"]
