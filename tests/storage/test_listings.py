"""The paged listings behind the self-service searches, on every database."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from tests.databases import open_database
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.logs import now_ms
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID, AccessClaims
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind, RevocationSet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from xpay_auth.storage.database import Database

pytestmark = pytest.mark.anyio

HOUR_MS = 3_600_000
NOW_S = now_ms() // 1000


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


async def _account(db: Database) -> Account:
    account = Account(
        id="acc_" + secrets.token_hex(8),
        username=f"{secrets.token_hex(5)}@example.com",
        scopes=("tme_user",),
        password_hash=None,
        disabled=False,
        created_at_ms=now_ms(),
    )
    await db.accounts.create(account)
    return account


def _session(
    account: Account, *, created_s: int, issued_s: int | None, key_id: str | None = None
) -> Session:
    return Session(
        ticket=secrets.token_hex(16),
        account_id=account.id,
        api_key_id=key_id,
        is_api=key_id is not None,
        scopes=account.scopes,
        created_at_ms=created_s * 1000 + 500,
        expires_at_ms=(NOW_S + 3600) * 1000,
        issued_at_s=issued_s,
    )


def _claims(session: Session) -> AccessClaims:
    return AccessClaims(
        subject=session.account_id,
        username="",
        scopes=session.scopes,
        ticket=session.ticket,
        client_id=session.api_key_id or DASHBOARD_CLIENT_ID,
        token_id="",
        issued_at=session.issued_at_s
        if session.issued_at_s is not None
        else session.created_at_ms // 1000,
        expires_at=session.expires_at_ms // 1000,
    )


async def test_live_sessions_agree_with_the_revocation_rules(db: Database) -> None:
    """The SQL listing leaves out exactly the sessions RevocationSet calls revoked."""
    account, other = await _account(db), await _account(db)
    mark = NOW_S - 100
    sessions = [
        _session(account, created_s=mark - 5, issued_s=mark - 5),  # before the mark: revoked
        _session(account, created_s=mark, issued_s=mark),  # at the mark: revoked
        _session(account, created_s=mark, issued_s=mark + 1),  # same second, issued after: live
        _session(account, created_s=mark + 5, issued_s=mark + 5),  # after: live
        _session(account, created_s=mark - 3, issued_s=None),  # legacy row before: revoked
        _session(account, created_s=mark + 3, issued_s=None),  # legacy row after: live
        _session(account, created_s=mark - 2, issued_s=mark - 2),  # spared below
        _session(account, created_s=mark + 7, issued_s=mark + 7, key_id="k" * 16),  # key revoked
        _session(account, created_s=mark + 8, issued_s=mark + 8, key_id="j" * 16),  # live key
        _session(account, created_s=mark + 9, issued_s=mark + 9),  # ticket revoked
        _session(other, created_s=mark + 9, issued_s=mark + 9),  # another account
    ]
    entries = [
        Revocation(RevocationKind.ACCOUNT, account.id, mark, sessions[6].ticket),
        Revocation(RevocationKind.KEY, "k" * 16),
        Revocation(RevocationKind.TICKET, sessions[9].ticket),
        Revocation(RevocationKind.ACCOUNT, other.id, mark - 1000),
    ]
    await db.sessions.insert_many(sessions)
    for entry in entries:
        await db.revocations.add(entry, now_ms=now_ms(), expires_at_ms=now_ms() + HOUR_MS)
    index = RevocationSet.of(RevocationEntry(entry, now_ms() + HOUR_MS) for entry in entries)
    expected = [
        s.ticket
        for s in sorted(sessions, key=lambda s: (-s.created_at_ms, s.ticket))
        if s.account_id == account.id and not index.is_revoked(_claims(s))
    ]
    assert set(expected) == {sessions[i].ticket for i in (2, 3, 5, 6, 8)}
    page = await db.sessions.live_page_for_account(account.id, now_ms(), offset=0, limit=100)
    assert [s.ticket for s in page.items] == expected
    assert page.total == len(expected)
    by_ticket = {s.ticket: s for s in page.items}
    assert by_ticket[sessions[2].ticket] == sessions[2]
    assert by_ticket[sessions[5].ticket].issued_at_s is None


async def test_live_sessions_page_and_skip_expired(db: Database) -> None:
    """Expired sessions are not listed; offset and limit page the rest with the full total."""
    account = await _account(db)
    live = [_session(account, created_s=NOW_S - n, issued_s=NOW_S - n) for n in range(5)]
    await db.sessions.insert_many(live)
    await db.sessions.insert_many(
        [
            Session(
                ticket=secrets.token_hex(16),
                account_id=account.id,
                api_key_id=None,
                is_api=False,
                scopes=account.scopes,
                created_at_ms=now_ms() - HOUR_MS,
                expires_at_ms=now_ms() - 1,
                issued_at_s=NOW_S - 3600,
            )
        ]
    )
    page = await db.sessions.live_page_for_account(account.id, now_ms(), offset=2, limit=2)
    assert [s.ticket for s in page.items] == [live[2].ticket, live[3].ticket]
    assert page.total == 5


async def test_key_listing_sorts_with_never_used_last(db: Database) -> None:
    """Keys sort on any listed field, either way, with keys never used at the end."""
    account = await _account(db)
    base = now_ms()
    keys = [
        ApiKey(
            id=secrets.token_hex(8),
            account_id=account.id,
            name=name,
            scopes=account.scopes,
            secret_hash=secrets.token_bytes(32),
            created_at_ms=base + offset,
        )
        for offset, name in enumerate(["bravo", "alpha", "charlie"])
    ]
    for key in keys:
        await db.api_keys.create(key)
    await db.api_keys.record_last_use({keys[0].id: base + 10, keys[2].id: base + 20})

    async def names(sort: str, *, descending: bool) -> list[str]:
        page = await db.api_keys.for_account(
            account.id, offset=0, limit=10, newest_first=descending, sort=sort
        )
        assert page.total == 3
        return [key.name for key in page.items]

    assert await names("created_at_ms", descending=True) == ["charlie", "alpha", "bravo"]
    assert await names("name", descending=False) == ["alpha", "bravo", "charlie"]
    assert await names("last_used_at_ms", descending=True) == ["charlie", "bravo", "alpha"]
    assert await names("last_used_at_ms", descending=False) == ["bravo", "charlie", "alpha"]
    with pytest.raises(ValueError, match="cannot sort"):
        await db.api_keys.for_account(account.id, offset=0, limit=1, sort="secret_hash")
