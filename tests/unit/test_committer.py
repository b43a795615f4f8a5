"""The group committer: a request's rows are committed before it returns, many at once."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import every_backend
from tests.databases import open_database
from tests.e2e.conftest import free_port
from xpay_auth.components.committer import Committer
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.errors import STORAGE_RETRY_AFTER, InternalError, StorageUnavailable
from xpay_auth.logs import now_ms
from xpay_auth.storage.batch import (
    Batch,
    BatchStore,
    PostgresBatchStore,
    SqliteBatchStore,
    create_batch_store,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from xpay_auth.storage.database import Database

pytestmark = pytest.mark.anyio


class CountingStore:
    """The real store of the test database, counting the batches it is handed."""

    def __init__(self, real: BatchStore) -> None:
        self.real = real
        self.lanes = real.lanes
        self.batches: list[int] = []

    async def write(self, batch: Batch) -> None:
        self.batches.append(len(batch))
        await self.real.write(batch)

    async def close(self) -> None:
        await self.real.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as db:
        yield db


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CountingStore]:
    counting = CountingStore(create_batch_store(database_url))
    yield counting
    await counting.close()


async def _account_with_key(db: Database) -> tuple[Account, ApiKey]:
    now = now_ms()
    account = Account(
        id="acc_" + secrets.token_hex(8),
        username=f"{secrets.token_hex(4)}@example.com",
        scopes=("tme_user",),
        password_hash=None,
        disabled=False,
        created_at_ms=now,
    )
    await db.accounts.create(account)
    key = ApiKey(
        id=secrets.token_hex(8),
        account_id=account.id,
        name="k",
        scopes=("tme_user",),
        secret_hash=secrets.token_bytes(32),
        created_at_ms=now,
    )
    await db.api_keys.create(key)
    return account, key


def _session(account: Account, key: ApiKey | None, ticket: str | None = None) -> Session:
    now = now_ms()
    return Session(
        ticket=ticket or secrets.token_hex(16),
        account_id=account.id,
        api_key_id=key.id if key else None,
        is_api=key is not None,
        scopes=("tme_user",),
        created_at_ms=now,
        expires_at_ms=now + 3_600_000,
        client_ip="127.0.0.1",
        issued_at_s=now // 1000,
    )


def _audit(event: str, ticket: str) -> dict[str, Any]:
    return {"at_ms": now_ms(), "event": event, "outcome": "ok", "ticket": ticket}


async def _audit_tickets(db: Database) -> list[str]:
    page = await db.audit.search(filters={}, since_ms=None, until_ms=None, offset=0, limit=1000)
    return sorted(str(row["ticket"]) for row in page.items)


@every_backend  # the committer writes through each backend's store
async def test_commit_returns_with_session_key_use_and_audit_written(
    database: Database, store: CountingStore
) -> None:
    """Once commit() returns, the session, its audit event and the key's last use are stored."""
    account, key = await _account_with_key(database)
    committer = Committer(store)
    session = _session(account, key)
    used_at = now_ms()
    await committer.commit(
        sessions=[session],
        audit=[_audit("login.succeeded", session.ticket)],
        key_use={key.id: used_at},
    )
    assert await database.sessions.by_ticket(session.ticket) == session
    stored = await database.api_keys.by_id(key.id)
    assert stored is not None
    assert stored.last_used_at_ms == used_at
    assert await _audit_tickets(database) == [session.ticket]
    assert committer.pending == 0


@every_backend  # the committer writes through each backend's store
async def test_concurrent_requests_share_commits(database: Database, store: CountingStore) -> None:
    """200 requests at once are written in a few batches, every row of each exactly once."""
    account, key = await _account_with_key(database)
    committer = Committer(store)
    sessions = [_session(account, key) for _ in range(200)]
    await asyncio.gather(
        *(
            committer.commit(
                sessions=[session],
                audit=[_audit("login.succeeded", session.ticket)],
                key_use={key.id: now_ms()},
            )
            for session in sessions
        )
    )
    # The first requests are written alone, one a lane; the rest queue for the next batches.
    assert len(store.batches) <= 2 * store.lanes + 1, store.batches
    assert sum(store.batches) >= 400
    assert await _audit_tickets(database) == sorted(s.ticket for s in sessions)
    for session in sessions:
        assert await database.sessions.by_ticket(session.ticket) == session


@every_backend  # the committer writes through each backend's store
async def test_key_use_is_written_at_most_once_a_minute(
    database: Database, store: CountingStore
) -> None:
    """Further uses of a key within a minute of the written one are not written again."""
    _, key = await _account_with_key(database)
    committer = Committer(store)
    first = now_ms()
    await committer.commit(key_use={key.id: first})
    await committer.commit(key_use={key.id: first + 1000})
    assert store.batches == [1]
    await committer.commit(key_use={key.id: first + 61_000})
    assert store.batches == [1, 1]
    stored = await database.api_keys.by_id(key.id)
    assert stored is not None
    assert stored.last_used_at_ms == first + 61_000


@every_backend  # the committer writes through each backend's store
async def test_a_refused_row_fails_only_its_own_request(
    database: Database, store: CountingStore
) -> None:
    """A duplicate ticket fails its request with 500; the others of its batch are written."""
    account, _ = await _account_with_key(database)
    committer = Committer(store)
    taken = _session(account, None)
    await committer.commit(sessions=[taken])
    good = [_session(account, None) for _ in range(5)]
    requests = [
        committer.commit(sessions=[session], audit=[_audit("login.succeeded", session.ticket)])
        for session in good[:2]
    ]
    duplicate = _session(account, None, ticket=taken.ticket)
    requests.append(
        committer.commit(sessions=[duplicate], audit=[_audit("login.succeeded", taken.ticket)])
    )
    requests += [
        committer.commit(sessions=[session], audit=[_audit("login.succeeded", session.ticket)])
        for session in good[2:]
    ]
    outcomes = await asyncio.gather(*requests, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [
        type(None),
        type(None),
        InternalError,
        type(None),
        type(None),
        type(None),
    ]
    for session in good:
        assert await database.sessions.by_ticket(session.ticket) == session
    # Nothing of the refused request was written, and nothing of the others twice.
    assert await _audit_tickets(database) == sorted(s.ticket for s in good)
    await committer.commit(sessions=[_session(account, None)])


async def test_a_database_that_is_away_fails_the_batch_with_503(tmp_path: Path) -> None:
    """Every request of a batch the database cannot take gets 503 with Retry-After."""
    stores: list[BatchStore] = [
        SqliteBatchStore(f"sqlite:///{tmp_path / 'missing' / 'gone.db'}"),
        PostgresBatchStore(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"),
    ]
    for away in stores:
        committer = Committer(away)
        outcomes = await asyncio.gather(
            *(committer.commit(audit=[_audit("login.failed", f"t{n}")]) for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes), outcomes
        errors = [outcome for outcome in outcomes if isinstance(outcome, StorageUnavailable)]
        assert {error.status for error in errors} == {503}
        assert {error.headers["Retry-After"] for error in errors} == {str(STORAGE_RETRY_AFTER)}
        assert len({error.tag for error in errors}) == 5
        await committer.close()


@every_backend  # the committer writes through each backend's store
async def test_a_request_that_stops_waiting_still_has_its_rows_written(
    database: Database, store: CountingStore
) -> None:
    """A request cancelled while its batch is written (its client left) does not undo it."""
    account, _ = await _account_with_key(database)
    committer = Committer(store)
    session = _session(account, None)
    waiting = asyncio.ensure_future(committer.commit(sessions=[session]))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await committer.close()
    assert await database.sessions.by_ticket(session.ticket) == session
