"""The background writer: sessions, key use and audit events written behind, never lost."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from tests.databases import open_database
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.logs import now_ms
from xpay_auth.services.writer import BackgroundWriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from xpay_auth.storage.repositories import Database

pytestmark = pytest.mark.anyio


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as db:
        yield db


async def _account_with_key(db: Database) -> tuple[Account, ApiKey]:
    now = now_ms()
    account = Account(
        id="acc_" + secrets.token_hex(8),
        username=f"{secrets.token_hex(4)}@example.com",
        scopes=("tme_user",),
        password_hash=None,
        disabled=False,
        created_at=now,
    )
    await db.accounts.create(account)
    key = ApiKey(
        id=secrets.token_hex(8),
        account_id=account.id,
        name="k",
        scopes=("tme_user",),
        secret_hash=secrets.token_bytes(32),
        created_at=now,
    )
    await db.api_keys.create(key)
    return account, key


def _session(account: Account, key: ApiKey | None) -> Session:
    now = now_ms()
    return Session(
        ticket=secrets.token_hex(16),
        account_id=account.id,
        api_key_id=key.id if key else None,
        is_api=key is not None,
        scopes=("tme_user",),
        created_at=now,
        expires_at=now + 3_600_000,
        client_ip="127.0.0.1",
    )


def _audit(event: str, ticket: str) -> dict[str, Any]:
    return {"at": now_ms(), "event": event, "outcome": "ok", "ticket": ticket}


async def _audit_tickets(db: Database) -> list[str]:
    page = await db.audit.search(filters={}, since=None, until=None, offset=0, limit=1000)
    return sorted(str(row["ticket"]) for row in page.items)


class FailOnce:
    """Stands in for a repository method: fails its first call, then delegates."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    async def __call__(self, *args: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("database went away")
        await self.real(*args)


async def test_flush_writes_sessions_key_use_and_audit(database: Database) -> None:
    """One flush writes every pending session, the key's last use and the audit events."""
    account, key = await _account_with_key(database)
    writer = BackgroundWriter(database, flush_interval=60)
    sessions = [_session(account, key) for _ in range(3)]
    for session in sessions:
        writer.add_session(session)
        writer.audit(_audit("login.succeeded", session.ticket))
    used_at = now_ms()
    writer.key_used(key.id, used_at)
    assert writer.pending == 7
    await writer.flush()
    assert writer.pending == 0
    for session in sessions:
        assert await database.sessions.by_ticket(session.ticket) == session
    stored = await database.api_keys.by_id(key.id)
    assert stored is not None
    assert stored.last_used_at == used_at
    assert await _audit_tickets(database) == sorted(s.ticket for s in sessions)


async def test_key_use_is_written_at_most_once_a_minute(database: Database) -> None:
    """Further uses of a key within a minute of the written one are not queued again."""
    _, key = await _account_with_key(database)
    writer = BackgroundWriter(database, flush_interval=60)
    first = now_ms()
    writer.key_used(key.id, first)
    await writer.flush()
    writer.key_used(key.id, first + 1000)
    assert writer.pending == 0
    writer.key_used(key.id, first + 61_000)
    assert writer.pending == 1


@pytest.mark.parametrize("failing", ["sessions", "api_keys", "audit"])
async def test_failed_flush_keeps_every_batch_for_the_next(
    database: Database, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """When any write of a flush fails, nothing pending is lost: a later flush writes it all."""
    account, key = await _account_with_key(database)
    method = {"sessions": "insert_many", "api_keys": "record_last_use", "audit": "insert_many"}[
        failing
    ]
    repository = getattr(database, failing)
    flaky = FailOnce(getattr(repository, method))
    monkeypatch.setattr(repository, method, flaky)
    writer = BackgroundWriter(database, flush_interval=60)
    session = _session(account, key)
    writer.add_session(session)
    writer.audit(_audit("login.succeeded", session.ticket))
    used_at = now_ms()
    writer.key_used(key.id, used_at)

    with pytest.raises(ConnectionError):
        await writer.flush()
    later = _session(account, None)
    writer.add_session(later)
    writer.audit(_audit("login.succeeded", later.ticket))
    await writer.flush()

    assert flaky.calls == 2
    assert writer.pending == 0
    assert await database.sessions.by_ticket(session.ticket) == session
    assert await database.sessions.by_ticket(later.ticket) == later
    stored = await database.api_keys.by_id(key.id)
    assert stored is not None
    assert stored.last_used_at == used_at
    assert await _audit_tickets(database) == sorted([session.ticket, later.ticket])


async def test_close_flushes_what_is_pending(database: Database) -> None:
    """close() stops the periodic task and writes whatever is still pending."""
    account, key = await _account_with_key(database)
    writer = BackgroundWriter(database, flush_interval=3600)
    writer.start()
    session = _session(account, key)
    writer.add_session(session)
    writer.audit(_audit("login.succeeded", session.ticket))
    await writer.close()
    assert writer.pending == 0
    assert await database.sessions.by_ticket(session.ticket) == session
    assert await _audit_tickets(database) == [session.ticket]


async def test_periodic_task_flushes_and_survives_failures(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background task retries after a failed flush and writes the batch on its own."""
    account, _ = await _account_with_key(database)
    flaky = FailOnce(database.sessions.insert_many)
    monkeypatch.setattr(database.sessions, "insert_many", flaky)
    writer = BackgroundWriter(database, flush_interval=0.02)
    session = _session(account, None)
    writer.add_session(session)
    writer.start()
    try:
        with anyio.fail_after(10):
            while await database.sessions.by_ticket(session.ticket) is None:  # noqa: ASYNC110  polls the database, not a flag
                await anyio.sleep(0.02)
    finally:
        await writer.close()
    assert flaky.calls >= 2


async def test_close_during_a_slow_flush_loses_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shutdown that arrives while the periodic task is mid-flush still writes the batch."""
    account, _ = await _account_with_key(database)
    real = database.sessions.insert_many
    entered = anyio.Event()

    async def slow_insert(batch: Any) -> None:
        if batch:
            entered.set()
            await anyio.sleep(0.3)
        await real(batch)

    monkeypatch.setattr(database.sessions, "insert_many", slow_insert)
    writer = BackgroundWriter(database, flush_interval=0.01)
    sessions = [_session(account, None) for _ in range(5)]
    for session in sessions:
        writer.add_session(session)
    writer.start()
    with anyio.fail_after(10):
        await entered.wait()
    await writer.close()
    for session in sessions:
        assert await database.sessions.by_ticket(session.ticket) == session
