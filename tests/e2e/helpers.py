"""End-to-end helpers: envelope checks, and direct access to a running server's database.

``Direct`` opens the server's database with the server's own secret in the test process, to
prepare what no HTTP call can (an expired key, a token signed with the server's key but
with chosen claims) without paying a CLI process start for each account.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select, update

from tests.conftest import make_settings
from xpay_auth.runtime import Runtime, open_runtime
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.services import accounts, api_keys
from xpay_auth.storage.models import ApiKeyRow, AuditEventRow, Base, SessionRow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    import httpx

    from tests.e2e.conftest import Server

T = TypeVar("T")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TICKET = re.compile(r"[0-9a-f]{32}")
INVALID_TOKEN = 'Bearer error="invalid_token"'


def success(response: httpx.Response, message: str | None = None) -> dict[str, Any]:
    """The ``success`` object of a 200 success envelope, after checking its shape."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "uuid"}, body
    assert UUID4.fullmatch(body["uuid"]), body
    assert set(body["success"]) == {"message", "data"}, body
    if message is not None:
        assert body["success"]["message"] == message
    result: dict[str, Any] = body["success"]
    return result


def failure(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The ``error`` object of an error envelope with ``status``, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error", "uuid"}, body
    assert UUID4.fullmatch(body["uuid"]), body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "data", "tag"}, body
    assert UUID4.fullmatch(error["tag"]), body
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def without_ids(response: httpx.Response) -> dict[str, Any]:
    """The body with the per-response ``uuid`` and ``tag`` blanked, for comparing refusals."""
    body: dict[str, Any] = response.json()
    body["uuid"] = "-"
    if "error" in body:
        body["error"]["tag"] = "-"
    return body


def credentials(username: str, secret: str, is_api: Any) -> dict[str, Any]:
    return {"username": username, "secretKey": secret, "isAPI": is_api}


def wait_until(check: Callable[[], bool], *, timeout: float = 15.0, every: float = 0.1) -> None:
    """Poll ``check`` until it holds; fail with a clear message after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


class Direct:
    """The running server's database and keys, opened in the test process."""

    def __init__(self, server: Server) -> None:
        self.settings = make_settings(
            server.env["XPAY_AUTH_DATABASE_URL"],
            secret_key=server.env["XPAY_AUTH_SECRET_KEY"],
        )

    def run(self, action: Callable[[Runtime], Awaitable[T]]) -> T:
        async def main() -> T:
            async with open_runtime(self.settings) as runtime:
                return await action(runtime)

        return asyncio.run(main())

    def create_user(
        self,
        username: str,
        *,
        scopes: Iterable[str] = ("tme_user",),
        password: str | None = None,
        keys: int = 0,
        key_scopes: Iterable[str] | None = None,
        **key_options: Any,
    ) -> list[tuple[str, str]]:
        """An account, and ``keys`` API keys for it: a list of (key id, secret)."""

        async def action(runtime: Runtime) -> list[tuple[str, str]]:
            account = await accounts.create_account(
                runtime.services.accounts, username, scopes=tuple(scopes), password=password
            )
            made = []
            for _ in range(keys):
                issued = await api_keys.create_key(
                    runtime.services.keys, account, scopes=key_scopes, **key_options
                )
                made.append((issued.key.id, issued.secret))
            return made

        return self.run(action)

    def expire_key(self, key_id: str) -> None:
        """Move a key's expiry into the past, as time passing would."""

        async def action(runtime: Runtime) -> None:
            async with runtime.database.engine.begin() as conn:
                await conn.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == key_id)
                    .values(expires_at_ms=int(time.time() * 1000) - 1000)
                )

        self.run(action)

    def signed_token(
        self, subject: str = "acc_0000000000000000", *, issued_at: int, expires_at: int
    ) -> str:
        """A token signed with the server's current key, with the given times."""

        async def action(runtime: Runtime) -> str:
            return runtime.issuer.issue(
                subject=subject,
                username="someone@example.com",
                scopes=("tme_user",),
                ticket=secrets.token_hex(16),
                client_id=DASHBOARD_CLIENT_ID,
                issued_at=issued_at,
                expires_at=expires_at,
            )

        return self.run(action)

    def stored_tickets(self, tickets: Iterable[str]) -> set[str]:
        """Which of ``tickets`` have a session row."""
        wanted = list(tickets)

        async def action(runtime: Runtime) -> set[str]:
            async with runtime.database.engine.connect() as conn:
                rows = await conn.execute(
                    select(SessionRow.ticket).where(SessionRow.ticket.in_(wanted))
                )
                return {row[0] for row in rows}

        return self.run(action)

    def audited_tickets(self, event: str) -> set[str]:
        """The tickets of every audit event named ``event``."""

        async def action(runtime: Runtime) -> set[str]:
            async with runtime.database.engine.connect() as conn:
                rows = await conn.execute(
                    select(AuditEventRow.ticket).where(AuditEventRow.event == event)
                )
                return {row[0] for row in rows if row[0]}

        return self.run(action)

    def count_rows(self, table: Any) -> int:
        async def action(runtime: Runtime) -> int:
            async with runtime.database.engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )

        return self.run(action)

    def dump_text(self) -> str:
        """Every row of every table as text, for looking for leaked secrets."""

        async def action(runtime: Runtime) -> str:
            parts: list[str] = []
            async with runtime.database.engine.connect() as conn:
                for table in Base.metadata.sorted_tables:
                    rows = await conn.execute(select(table))
                    parts.extend(repr(tuple(row)) for row in rows)
            return "\n".join(parts)

        return self.run(action)
