"""The service over its life: restarts, signing-key rotation, bursts, shutdown, leaks."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from tests.conftest import every_backend
from tests.e2e.helpers import Direct, credentials, failure, success, wait_until
from tests.plain_http import HTTP
from xpay_auth.security import api_keys as key_format
from xpay_auth.storage.models import AuditEventRow

if TYPE_CHECKING:
    from tests.e2e.conftest import Server, ServerFactory

BURST = 200


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _jwks_kids(server: Server) -> set[str]:
    keys = HTTP.get(f"{server.base_url}/.well-known/jwks.json", timeout=10).json()["keys"]
    return {key["kid"] for key in keys}


def test_restart_keeps_keys_and_tokens(server: Server) -> None:
    """After a restart, a token from before still works and the same key still logs in."""
    [(_, secret)] = Direct(server).create_user("alice@example.com", keys=1)
    before = server.login("alice@example.com", secret)
    kids = _jwks_kids(server)
    server.restart()
    session = success(server.post("/client/session", token=before["access_token"]))["data"]
    assert session["ticket"] == before["ticket"]
    assert session["expiresAt"] == before["expiresAt"]
    assert _jwks_kids(server) == kids
    after = server.login("alice@example.com", secret)
    assert _kid(after["access_token"]) == _kid(before["access_token"])
    assert success(server.post("/client/logout", token=before["access_token"]))
    failure(server.post("/client/session", token=before["access_token"]), 401)
    assert success(server.post("/client/session", token=after["access_token"]))


def test_signing_key_rotation_keeps_old_tokens_valid(server_factory: ServerFactory) -> None:
    """After `signing-keys rotate`, old tokens verify, new ones carry the new kid, JWKS has both."""
    server = server_factory(XPAY_AUTH_SIGNING_KEY_REFRESH="1")
    [(_, secret)] = Direct(server).create_user("alice@example.com", keys=1)
    old = server.login("alice@example.com", secret)["access_token"]
    old_kid = _kid(old)

    rotated = server.cli_in_process("signing-keys", "rotate")
    assert old_kid in rotated
    new_kid = rotated.split("now signing with ", 1)[1].split(";", 1)[0].strip()
    assert new_kid
    assert new_kid != old_kid

    # With a one-second refresh the server signs with the new key within about a second;
    # the bound leaves a wide margin for a loaded machine.
    wait_until(
        lambda: _kid(server.login("alice@example.com", secret)["access_token"]) == new_kid,
        timeout=8,
        every=0.25,
    )
    assert _jwks_kids(server) == {old_kid, new_kid}
    assert success(server.post("/client/session", token=old))
    new = server.login("alice@example.com", secret)["access_token"]
    assert success(server.post("/client/session", token=new))
    # A restart keeps both: the retired key stays published while its tokens may live.
    server.restart()
    assert _jwks_kids(server) == {old_kid, new_kid}
    assert success(server.post("/client/session", token=old))
    assert _kid(server.login("alice@example.com", secret)["access_token"]) == new_kid


async def _burst(base_url: str, body: dict[str, Any], count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        return list(
            await asyncio.gather(
                *(client.post("/client/authenticate", json=body) for _ in range(count))
            )
        )


def test_concurrent_logins_succeed_and_survive_a_clean_stop(server_factory: ServerFactory) -> None:
    """200 concurrent logins on two workers all succeed, and SIGTERM loses none of their writes."""
    server = server_factory(workers=2)
    direct = Direct(server)
    [(_, secret)] = direct.create_user("burst@example.com", keys=1)
    body = credentials("burst@example.com", secret, "true")
    started = time.monotonic()
    responses = asyncio.run(_burst(server.base_url, body, BURST))
    elapsed = time.monotonic() - started
    tickets = [success(response)["data"]["ticket"] for response in responses]
    assert len(set(tickets)) == BURST
    assert elapsed < 120

    assert server.stop() in (0, -signal.SIGTERM)
    assert direct.stored_tickets(tickets) == set(tickets)
    assert set(tickets) <= direct.audited_tickets("login.succeeded")
    assert '"event":"server.stopping"' in server.log()


def test_logout_of_one_session_leaves_the_others(server: Server) -> None:
    """Logging out one session of a key revokes that session only."""
    [(_, secret)] = Direct(server).create_user("alice@example.com", keys=1)
    first = server.login("alice@example.com", secret)
    second = server.login("alice@example.com", secret)
    assert first["ticket"] != second["ticket"]
    logout = success(server.post("/client/logout", token=first["access_token"]))
    assert logout["data"] == {"ticket": first["ticket"], "revoked": True}
    failure(server.post("/client/session", token=first["access_token"]), 401)
    failure(server.post("/client/logout", token=first["access_token"]), 401)
    assert success(server.post("/client/session", token=second["access_token"]))
    third = server.login("alice@example.com", secret)
    assert success(server.post("/client/session", token=third["access_token"]))


def _files(database_url: str) -> list[Path]:
    if not database_url.startswith("sqlite"):
        return []
    path = Path(database_url.split(":///", 1)[1])
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


@every_backend
def test_no_secret_password_or_token_is_stored_or_logged(server: Server) -> None:
    """Neither the database (file, WAL, rows) nor the log holds a secret, password or token."""
    password = "pw-" + secrets.token_urlsafe(24)
    wrong_password = "wrong-" + secrets.token_urlsafe(24)
    server.create_user("leak@example.com", password=password)
    secret = server.create_key("leak@example.com")["secretKey"]
    wrong_key = key_format.generate().secret
    tokens = [
        server.login("leak@example.com", secret)["access_token"],
        server.login("leak@example.com", password, is_api=False)["access_token"],
    ]
    for attempt in (
        credentials("leak@example.com", wrong_password, False),  # noqa: FBT003
        credentials("leak@example.com", wrong_key, True),  # noqa: FBT003
        credentials("leak@example.com", password, True),  # noqa: FBT003
        credentials("leak@example.com", secret, False),  # noqa: FBT003
    ):
        failure(server.post("/client/authenticate", attempt), 200)
    assert success(server.post("/client/session", token=tokens[0]))
    forged = tokens[0][:-20] + ("B" if tokens[0][-20] != "B" else "C") + tokens[0][-19:]
    failure(server.post("/client/session", token=forged), 401)
    assert success(server.post("/client/logout", token=tokens[1]))

    needles = {
        "API secret": secret,
        "API secret's random part": secret[22:65],
        "password": password,
        "wrong password": wrong_password,
        "wrong key": wrong_key,
    }
    for number, token in enumerate(tokens):
        needles[f"token {number}"] = token
        needles[f"token {number} signature"] = token.rsplit(".", 1)[1]

    database_url = server.env["XPAY_AUTH_DATABASE_URL"]
    direct = Direct(server)
    wait_until(lambda: direct.count_rows(AuditEventRow) >= 8)
    running = [(p.name, p.read_bytes()) for p in _files(database_url)]
    assert server.stop() in (0, -signal.SIGTERM)
    stopped = [(p.name, p.read_bytes()) for p in _files(database_url)]
    haystacks = [*running, *stopped, ("log", server.log().encode())]
    haystacks.append(("rows", direct.dump_text().encode()))
    # Compared without case, so a lower-cased copy would be found too.
    haystacks = [(name, content.lower()) for name, content in haystacks]
    if database_url.startswith("sqlite"):
        assert any(name.endswith(".db") for name, _ in haystacks)
    assert "leak@example.com" in direct.dump_text()
    for label, needle in needles.items():
        for name, content in haystacks:
            assert needle.lower().encode() not in content, f"{label} found in {name}"
