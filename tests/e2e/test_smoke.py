"""A real server answers the seed's call end to end."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import Server, ServerFactory, server_env
from tests.plain_http import HTTP
from xpay_auth.metrics import PUBLISH_SECONDS


def test_cli_key_logs_in_over_http(server: Server) -> None:
    """A key made with the CLI authenticates over HTTP with the seed's string "true"."""
    server.create_user("carol@example.com")
    key = server.create_key("carol@example.com", "--name", "ci")
    data = server.login("carol@example.com", key["secretKey"], is_api="true")
    assert data["user"]["username"] == "carol@example.com"
    session = server.post("/client/session", token=data["access_token"])
    assert session.json()["success"]["data"]["ticket"] == data["ticket"]


def test_metrics_sum_over_workers(server_factory: ServerFactory) -> None:
    """With two workers, /metrics counts the logins that either worker answered.

    Each worker publishes its counts every PUBLISH_SECONDS, so the sum is complete within
    that time of the last login, and never more than the logins made.
    """
    server = server_factory(workers=2)
    server.create_user("dave@example.com")
    key = server.create_key("dave@example.com")
    for _ in range(12):
        server.login("dave@example.com", key["secretKey"])
    deadline = time.monotonic() + PUBLISH_SECONDS * 3
    while True:
        text = HTTP.get(f"{server.base_url}/metrics", timeout=10).text
        line = next(
            (
                row
                for row in text.splitlines()
                if row.startswith("xpay_auth_requests_total{")
                and 'call="authenticate"' in row
                and 'outcome="success"' in row
            ),
            "x 0",
        )
        counted = float(line.rsplit(" ", 1)[1])
        assert counted <= 12
        if counted == 12 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counted == 12


def test_serve_migrates_a_database_without_schema(empty_database_url: str, tmp_path: Path) -> None:
    """`serve` on a database no migration has touched applies them all, then serves logins."""
    server = Server(env=server_env(empty_database_url), workdir=tmp_path)
    server.start()
    try:
        server.create_user("first@example.com")
        secret = server.create_key("first@example.com")["secretKey"]
        assert server.login("first@example.com", secret)["user"]["username"] == "first@example.com"
    finally:
        server.stop()
