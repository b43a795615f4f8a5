"""One repository suite, run on every database the service supports (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import anyio
import pytest
from sqlalchemy import delete

from tests.databases import open_database
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.logs import now_ms
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.storage.database import Database
from xpay_auth.storage.rows import AlreadyExists, revocation_feed
from xpay_auth.storage.signing_keys import StoredSigningKey

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio

HOUR_MS = 3_600_000


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


def _account(username: str | None = None, **overrides: object) -> Account:
    values: dict[str, object] = {
        "id": "acc_" + secrets.token_hex(8),
        "username": username or f"{secrets.token_hex(5)}@example.com",
        "scopes": ("tme_user",),
        "password_hash": None,
        "disabled": False,
        "created_at_ms": now_ms(),
    }
    values.update(overrides)
    return Account(**values)  # type: ignore[arg-type]


def _key(account: Account, **overrides: object) -> ApiKey:
    values: dict[str, object] = {
        "id": secrets.token_hex(8),
        "account_id": account.id,
        "name": "ci",
        "scopes": account.scopes,
        "secret_hash": secrets.token_bytes(32),
        "created_at_ms": now_ms(),
    }
    values.update(overrides)
    return ApiKey(**values)  # type: ignore[arg-type]


def _session(account: Account, *, expires_at: int | None = None, created_at: int = 0) -> Session:
    now = now_ms()
    return Session(
        ticket=secrets.token_hex(16),
        account_id=account.id,
        api_key_id=None,
        is_api=False,
        scopes=account.scopes,
        created_at_ms=created_at or now,
        expires_at_ms=expires_at if expires_at is not None else now + HOUR_MS,
        client_ip="203.0.113.9",
    )


def _stored(kid: str, created_at: int) -> StoredSigningKey:
    return StoredSigningKey(
        kid=kid,
        algorithm="ES256",
        public_jwk=f'{{"kid":"{kid}"}}',
        private_key=secrets.token_bytes(64),
        created_at_ms=created_at,
        retired_at_ms=None,
        publish_until_ms=None,
    )


async def test_account_round_trip(db: Database) -> None:
    """An account reads back by username and by id exactly as created."""
    account = _account(scopes=("tme_user", "tme_admin"), password_hash="$argon2id$x")
    await db.accounts.create(account)
    assert await db.accounts.by_username(account.username) == account
    assert await db.accounts.by_id(account.id) == account
    assert await db.accounts.by_username("nobody@example.com") is None
    assert await db.accounts.by_id("acc_missing") is None


async def test_usernames_are_unique(db: Database) -> None:
    """A second account with a taken username raises AlreadyExists and changes nothing."""
    first = _account("taken@example.com")
    await db.accounts.create(first)
    with pytest.raises(AlreadyExists):
        await db.accounts.create(_account("taken@example.com"))
    assert await db.accounts.by_username("taken@example.com") == first


async def test_account_update_and_search(db: Database) -> None:
    """Updates change the named columns; search matches substrings literally and pages."""
    accounts = [_account(f"user{i}@example.com", created_at_ms=1000 + i) for i in range(3)]
    odd = _account("100%_sure@example.com", created_at_ms=2000)
    for account in [*accounts, odd]:
        await db.accounts.create(account)
    assert await db.accounts.update(accounts[0].id, now_ms(), disabled=True)
    assert not await db.accounts.update("acc_missing", now_ms(), disabled=True)
    updated = await db.accounts.by_id(accounts[0].id)
    assert updated is not None
    assert updated.disabled
    page = await db.accounts.search(query="user", offset=0, limit=2)
    assert page.total == 3
    assert [a.username for a in page.items] == ["user2@example.com", "user1@example.com"]
    literal = await db.accounts.search(query="%_", offset=0, limit=10)
    assert [a.username for a in literal.items] == ["100%_sure@example.com"]


async def test_parallel_password_reservations_never_pass_the_cap(db: Database) -> None:
    """Of many reservations at once, exactly ``cap`` get a slot, numbered 1 to ``cap``."""
    account = _account()
    await db.accounts.create(account)
    counts = await asyncio.gather(
        *(db.accounts.reserve_password_attempt(account.id, 7) for _ in range(20))
    )
    assert sorted(count for count in counts if count is not None) == list(range(1, 8))
    stored = await db.accounts.by_id(account.id)
    assert stored is not None
    assert stored.failed_password_attempts == 7
    assert await db.accounts.reserve_password_attempt("acc_missing", 7) is None


async def test_api_key_with_account_is_one_joined_read(db: Database) -> None:
    """with_account returns the key and its owning account together; unknown ids give None."""
    account = _account(scopes=("tme_user", "tme_admin"))
    await db.accounts.create(account)
    key = _key(account, scopes=("tme_user",), expires_at_ms=now_ms() + HOUR_MS)
    await db.api_keys.create(key)
    found = await db.api_keys.with_account(key.id)
    assert found is not None
    assert found == (key, account)
    assert await db.api_keys.by_id(key.id) == key
    assert await db.api_keys.with_account(secrets.token_hex(8)) is None


async def test_api_key_revoke_is_idempotent(db: Database) -> None:
    """Revoking stamps revoked_at once; a second revoke reports no change."""
    account = _account()
    await db.accounts.create(account)
    keys = [_key(account) for _ in range(3)]
    for key in keys:
        await db.api_keys.create(key)
    assert await db.api_keys.revoke(keys[0].id, 5000)
    assert not await db.api_keys.revoke(keys[0].id, 6000)
    revoked = await db.api_keys.by_id(keys[0].id)
    assert revoked is not None
    assert revoked.revoked_at_ms == 5000
    assert not revoked.is_live(now_ms())
    assert sorted(await db.api_keys.revoke_all_of_account(account.id, 7000)) == sorted(
        k.id for k in keys[1:]
    )
    assert await db.api_keys.revoke_all_of_account(account.id, 8000) == []


async def test_last_use_only_moves_forward(db: Database) -> None:
    """record_last_use keeps the latest time and ignores older ones."""
    account = _account()
    await db.accounts.create(account)
    key = _key(account)
    await db.api_keys.create(key)
    await db.api_keys.record_last_use({key.id: 2000})
    await db.api_keys.record_last_use({key.id: 1000})
    stored = await db.api_keys.by_id(key.id)
    assert stored is not None
    assert stored.last_used_at_ms == 2000


async def test_rotate_swaps_hashes_only_from_the_expected_one(db: Database) -> None:
    """A rotation succeeds only when the stored hash is the one the caller read."""
    account = _account()
    await db.accounts.create(account)
    key = _key(account)
    await db.api_keys.create(key)
    new_hash = secrets.token_bytes(32)
    assert await db.api_keys.rotate(
        key.id, secret_hash=new_hash, previous_hash=key.secret_hash, previous_expires_at_ms=9000
    )
    assert not await db.api_keys.rotate(
        key.id,
        secret_hash=secrets.token_bytes(32),
        previous_hash=key.secret_hash,
        previous_expires_at_ms=9000,
    )
    stored = await db.api_keys.by_id(key.id)
    assert stored is not None
    assert (stored.secret_hash, stored.previous_secret_hash) == (new_hash, key.secret_hash)
    assert stored.previous_expires_at_ms == 9000


async def test_sessions_insert_and_live(db: Database) -> None:
    """Inserted sessions read back; only unexpired ones are live, newest first."""
    account = _account()
    await db.accounts.create(account)
    now = now_ms()
    older = _session(account, created_at=now - 2000)
    newer = _session(account, created_at=now - 1000)
    expired = _session(account, created_at=now - 5000, expires_at=now - 1)
    await db.sessions.insert_many([older, newer, expired])
    await db.sessions.insert_many([])
    assert await db.sessions.by_ticket(newer.ticket) == newer
    assert await db.sessions.by_ticket(secrets.token_hex(16)) is None
    live = await db.sessions.live_for_account(account.id, now)
    assert [s.ticket for s in live] == [newer.ticket, older.ticket]
    assert await db.sessions.purge_expired(now) == 1
    assert await db.sessions.by_ticket(expired.ticket) is None


async def _revoked(
    db: Database, *, ticket: str, key_id: str | None = None, issued_at: int = 1000
) -> bool:
    return await db.revocations.is_revoked(
        ticket=ticket, key_id=key_id, account_id="acc_1", issued_at_s=issued_at
    )


async def test_ticket_revocation(db: Database) -> None:
    """A revoked ticket is revoked; another ticket of the same account is not."""
    await db.revocations.add(
        Revocation(RevocationKind.TICKET, "a" * 32), now_ms=1, expires_at_ms=now_ms() + HOUR_MS
    )
    assert await _revoked(db, ticket="a" * 32)
    assert not await _revoked(db, ticket="b" * 32)


async def test_key_revocation(db: Database) -> None:
    """A revoked key revokes its tokens only, and never a token without a key."""
    await db.revocations.add(
        Revocation(RevocationKind.KEY, "key1"), now_ms=1, expires_at_ms=now_ms() + HOUR_MS
    )
    assert await _revoked(db, ticket="a" * 32, key_id="key1")
    assert not await _revoked(db, ticket="a" * 32, key_id="key2")
    assert not await _revoked(db, ticket="a" * 32, key_id=None)


async def test_a_later_mark_or_a_longer_ticket_updates_its_one_row(db: Database) -> None:
    """The same key, ticket or account mark revoked twice is stored once; a later account
    mark, or a ticket kept longer, changes that row rather than adding one."""
    later = now_ms() + HOUR_MS
    key = Revocation(RevocationKind.KEY, "key1")
    mark = Revocation(RevocationKind.ACCOUNT, "acc1", 100, None)
    ticket = Revocation(RevocationKind.TICKET, "t" * 32)
    for revocation in (key, mark, ticket):
        assert await db.revocations.add(revocation, now_ms=1, expires_at_ms=later)
        assert not await db.revocations.add(revocation, now_ms=2, expires_at_ms=later)
    assert not await db.revocations.add(key, now_ms=3, expires_at_ms=later + HOUR_MS)
    newer_mark = Revocation(RevocationKind.ACCOUNT, "acc1", 101, None)
    assert await db.revocations.add(newer_mark, now_ms=3, expires_at_ms=later)
    assert await db.revocations.add(ticket, now_ms=3, expires_at_ms=later + HOUR_MS)
    assert await db.revocations.active(now_ms()) == [
        RevocationEntry(key, later),
        RevocationEntry(newer_mark, later),
        RevocationEntry(ticket, later + HOUR_MS),
    ]


async def test_account_revocation_boundary_and_exception(db: Database) -> None:
    """An account entry revokes tokens issued at or before not_after, except its spared ticket."""
    await db.revocations.add(
        Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000, except_ticket="c" * 32),
        now_ms=1,
        expires_at_ms=now_ms() + HOUR_MS,
    )
    assert await _revoked(db, ticket="a" * 32, issued_at=999)
    assert await _revoked(db, ticket="a" * 32, issued_at=1000)
    assert not await _revoked(db, ticket="a" * 32, issued_at=1001)
    assert not await _revoked(db, ticket="c" * 32, issued_at=999)
    assert not await db.revocations.is_revoked(
        ticket="a" * 32, key_id=None, account_id="acc_2", issued_at_s=999
    )


async def test_account_revocation_without_exception(db: Database) -> None:
    """An account entry without a spared ticket revokes every token up to not_after."""
    await db.revocations.add(
        Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000),
        now_ms=1,
        expires_at_ms=now_ms() + HOUR_MS,
    )
    assert await _revoked(db, ticket="c" * 32, issued_at=1000)
    assert not await _revoked(db, ticket="c" * 32, issued_at=1001)


async def test_active_revocations_and_purge(db: Database) -> None:
    """active() lists unexpired entries in change order; purge_expired deletes the rest."""
    now = now_ms()
    live = [
        RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now + HOUR_MS),
        RevocationEntry(
            Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=5, except_ticket="b" * 32),
            now + HOUR_MS,
        ),
    ]
    await db.revocations.record(live[0], now_ms=now)
    old = RevocationEntry(Revocation(RevocationKind.KEY, "old"), now + 10)
    await db.revocations.record(old, now_ms=now)
    await db.revocations.record(live[1], now_ms=now)
    assert await db.revocations.active(now + 10) == live
    assert await db.revocations.purge_expired(now + 10) == 1


async def test_a_revocation_whose_tokens_have_expired_is_not_stored(db: Database) -> None:
    """An entry that would end before now adds nothing and takes no row."""
    now = now_ms()
    gone = RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now - 1)
    assert await db.revocations.record(gone, now_ms=now) is False
    assert await db.revocations.active(0) == []


async def test_repeating_a_revocation_adds_no_row(db: Database) -> None:
    """The same ticket, key or account mark recorded again changes nothing, and no number."""
    now = now_ms()
    entries = [
        RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now + HOUR_MS),
        RevocationEntry(Revocation(RevocationKind.KEY, "key1"), now + HOUR_MS),
        RevocationEntry(Revocation(RevocationKind.ACCOUNT, "acc_1", 1000), now + HOUR_MS),
    ]
    for entry in entries:
        assert await db.revocations.record(entry, now_ms=now) is True
    before = await db.revocations.changes(after=0, now_ms=now, limit=100)
    for _ in range(3):
        for entry in entries:
            assert await db.revocations.record(entry, now_ms=now) is False
    longer_key = RevocationEntry(entries[1].revocation, now + 2 * HOUR_MS)
    assert await db.revocations.record(longer_key, now_ms=now) is False
    after = await db.revocations.changes(after=0, now_ms=now, limit=100)
    assert after.entries == before.entries == entries
    # Nothing changed after the first cursor: a verifier holding it reads nothing new.
    since = await db.revocations.changes(after=before.last_seq, now_ms=now, limit=100)
    assert since.entries == []


async def test_a_ticket_its_account_mark_or_key_covers_is_not_stored(db: Database) -> None:
    """A logout of a token its account's mark or its key's revocation covers adds nothing."""
    now = now_ms()
    mark = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000)
    await db.revocations.record(RevocationEntry(mark, now + HOUR_MS), now_ms=now)
    await db.revocations.record(
        RevocationEntry(Revocation(RevocationKind.KEY, "key1"), now + HOUR_MS), now_ms=now
    )
    ticket = RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now + HOUR_MS)
    covered = await db.revocations.record(ticket, now_ms=now, account_id="acc_1", issued_at_s=1000)
    by_key = await db.revocations.record(
        ticket, now_ms=now, account_id="acc_2", issued_at_s=1000, key_id="key1"
    )
    later = await db.revocations.record(ticket, now_ms=now, account_id="acc_1", issued_at_s=1001)
    assert (covered, by_key, later) == (False, False, True)
    assert len(await db.revocations.active(now)) == 3


async def test_an_account_mark_takes_the_place_of_the_tickets_it_covers(db: Database) -> None:
    """A newer account mark replaces the older one and deletes the ticket entries it covers."""
    now = now_ms()
    for ticket, issued_at in (("a" * 32, 900), ("b" * 32, 1500), ("c" * 32, 1000)):
        entry = RevocationEntry(Revocation(RevocationKind.TICKET, ticket), now + HOUR_MS)
        await db.revocations.record(entry, now_ms=now, account_id="acc_1", issued_at_s=issued_at)
    first = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=800)
    second = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1200, except_ticket="c" * 32)
    await db.revocations.record(RevocationEntry(first, now + HOUR_MS), now_ms=now)
    await db.revocations.record(RevocationEntry(second, now + HOUR_MS), now_ms=now)
    kept = {entry.revocation for entry in await db.revocations.active(now)}
    assert kept == {
        second,
        Revocation(RevocationKind.TICKET, "b" * 32),  # issued after the mark
        Revocation(RevocationKind.TICKET, "c" * 32),  # the session the mark spares
    }
    assert await _revoked(db, ticket="a" * 32, issued_at=900)
    assert not await _revoked(db, ticket="d" * 32, issued_at=1300)


async def test_an_older_mark_arriving_late_ends_the_session_the_newer_one_spared(
    db: Database,
) -> None:
    """Marks written out of order (clocks apart) never let the older mark's tokens through."""
    now = now_ms()
    newer = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=2000, except_ticket="c" * 32)
    older = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1900)
    await db.revocations.record(RevocationEntry(newer, now + HOUR_MS), now_ms=now)
    assert await db.revocations.record(RevocationEntry(older, now + HOUR_MS), now_ms=now) is True
    assert await _revoked(db, ticket="c" * 32, issued_at=1800)
    assert await _revoked(db, ticket="a" * 32, issued_at=1950)


async def test_feed_pages_follow_the_cursor_in_change_order(db: Database) -> None:
    """Pages are bounded; following the cursor reads every change once; changed rows move up."""
    now = now_ms()
    tickets = [secrets.token_hex(16) for _ in range(7)]
    for ticket in tickets:
        entry = RevocationEntry(Revocation(RevocationKind.TICKET, ticket), now + HOUR_MS)
        await db.revocations.record(entry, now_ms=now)
    seen: list[str] = []
    cursor, pages = 0, 0
    while True:
        page = await db.revocations.changes(after=cursor, now_ms=now, limit=3)
        seen += [entry.revocation.subject for entry in page.entries]
        cursor, pages = page.last_seq, pages + 1
        if not page.more:
            break
    assert (seen, pages) == (tickets, 3)
    # A longer-lived repeat is a change: it comes again, after the cursor, with its new end.
    longer = RevocationEntry(Revocation(RevocationKind.TICKET, tickets[0]), now + 2 * HOUR_MS)
    assert await db.revocations.record(longer, now_ms=now) is True
    page = await db.revocations.changes(after=cursor, now_ms=now, limit=3)
    assert (page.entries, page.more) == ([longer], False)
    assert page.head == page.last_seq


async def test_concurrent_revocations_are_numbered_in_commit_order(db: Database) -> None:
    """Fifty revocations at once get fifty distinct numbers, and a cursor reader misses none."""
    now = now_ms()
    tickets = [secrets.token_hex(16) for _ in range(50)]
    seen: set[str] = set()
    cursor = 0

    async def read_along() -> None:
        nonlocal cursor
        page = await db.revocations.changes(after=cursor, now_ms=now, limit=1000)
        seen.update(entry.revocation.subject for entry in page.entries)
        cursor = page.last_seq

    async def revoke(ticket: str) -> None:
        entry = RevocationEntry(Revocation(RevocationKind.TICKET, ticket), now + HOUR_MS)
        assert await db.revocations.record(entry, now_ms=now)
        await read_along()

    async with anyio.create_task_group() as group:
        for ticket in tickets:
            group.start_soon(revoke, ticket)
    await read_along()
    assert seen == set(tickets)
    head, _ = await db.revocations.feed_state()
    assert cursor == head


async def test_signing_keys_insert_once_then_replace_current(db: Database) -> None:
    """The first key is inserted once; replace_current retires it with a publish deadline."""
    first, concurrent = _stored("kid-1", 1000), _stored("kid-x", 1001)
    assert await db.signing_keys.insert_if_none_current(first)
    assert not await db.signing_keys.insert_if_none_current(concurrent)
    assert await db.signing_keys.all() == [first]
    second = _stored("kid-2", 2000)
    assert await db.signing_keys.replace_current(second, now_ms=2000, publish_until_ms=9000) == [
        "kid-1"
    ]
    stored = {key.kid: key for key in await db.signing_keys.all()}
    assert set(stored) == {"kid-1", "kid-2"}
    assert (stored["kid-1"].retired_at_ms, stored["kid-1"].publish_until_ms) == (2000, 9000)
    assert stored["kid-1"].private_key == first.private_key
    assert stored["kid-2"] == second
    assert await db.signing_keys.delete_unpublished(8999) == 0
    assert await db.signing_keys.delete_unpublished(9000) == 1
    assert [key.kid for key in await db.signing_keys.all()] == ["kid-2"]


async def test_audit_insert_and_search(db: Database) -> None:
    """Audit events are stored and found by field and time, newest first."""
    await db.audit.insert_many(
        [
            {"at_ms": 1000, "event": "login.failed", "outcome": "refused", "username": "a@x.test"},
            {"at_ms": 2000, "event": "login.succeeded", "outcome": "ok", "username": "a@x.test"},
            {"at_ms": 3000, "event": "login.failed", "outcome": "refused", "username": "b@x.test"},
        ]
    )
    await db.audit.insert_many([])
    page = await db.audit.search(
        filters={"event": "login.failed"}, since_ms=None, until_ms=None, offset=0, limit=10
    )
    assert page.total == 2
    assert [row["username"] for row in page.items] == ["b@x.test", "a@x.test"]
    window = await db.audit.search(filters={}, since_ms=1500, until_ms=3000, offset=0, limit=10)
    assert [row["at_ms"] for row in window.items] == [2000]


async def test_ping(db: Database) -> None:
    """ping succeeds on a reachable database."""
    await db.ping()


async def test_a_missing_feed_row_starts_a_new_generation(db: Database) -> None:
    """With the counter row deleted (tables emptied by hand), revocations still number anew."""
    now = now_ms()
    first = RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now + HOUR_MS)
    await db.revocations.record(first, now_ms=now)
    head, generation = await db.revocations.feed_state()
    async with db.engine.begin() as conn:
        await conn.execute(delete(revocation_feed))
    assert (await db.revocations.changes(after=0, now_ms=now, limit=10)).entries == [first]
    second = RevocationEntry(Revocation(RevocationKind.TICKET, "b" * 32), now + HOUR_MS)
    assert await db.revocations.record(second, now_ms=now) is True
    new_head, new_generation = await db.revocations.feed_state()
    assert new_generation != generation
    assert new_head > head
    page = await db.revocations.changes(after=head, now_ms=now, limit=10)
    assert page.entries == [second]
