"""A real server keeps every audit event across a clean shutdown, and logs no secret."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tests.plain_http import HTTP
from tests.security.support import database_text

if TYPE_CHECKING:
    from tests.e2e.conftest import Server, ServerFactory

BURST = 60


def audit_events(server: Server, *args: str) -> list[dict[str, Any]]:
    found = server.cli_in_process("audit", "search", "--json", "--limit", "1000", *args)
    return [json.loads(line) for line in found.splitlines()]


def test_burst_then_sigterm_loses_no_attempt(
    server_factory: ServerFactory, database_url: str
) -> None:
    """Every login of a parallel burst is in the audit table after SIGTERM."""
    # The address limit is raised so that the burst's wrong keys are answered, not throttled.
    server = server_factory(XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="1000")
    server.create_user("henry@example.com")
    secret = server.create_key("henry@example.com")["secretKey"]
    sent: dict[str, str] = {}
    tokens: list[str] = []

    def attempt(index: int) -> None:
        rid = str(uuid.uuid4())
        right = index % 2 == 0
        body = {
            "username": "henry@example.com",
            "secretKey": secret if right else secret + "x",
            "isAPI": True,
        }
        response = HTTP.post(
            f"{server.base_url}/client/authenticate", json=body, headers={"uuid": rid}, timeout=30
        )
        assert response.status_code == 200
        assert ("success" in response.json()) is right
        sent[rid] = "login.succeeded" if right else "login.failed"
        if right:
            tokens.append(response.json()["success"]["data"]["access_token"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(attempt, range(BURST)))
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its graceful shutdown is done.
    assert server.process.wait(timeout=30) in {0, -signal.SIGTERM}

    recorded = {
        event["requestUuid"]: event["event"]
        for event in audit_events(server, "--username", "henry@example.com")
    }
    assert {rid: recorded.get(rid) for rid in sent} == sent
    log = server.log()
    assert '"event":"server.stopping"' in log
    stored = _database(database_url)
    assert "henry@example.com" in stored
    for needle in [secret, secret[-49:], *tokens]:
        assert needle not in log
        assert needle not in stored


def _database(url: str) -> str:
    return asyncio.run(database_text(url))
