"""Repositories: the only place SQL is written. Each method is one short transaction.

Methods take and return the records of ``xpay_auth.domain``; no ORM row leaves this module.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.storage.models import (
    AccountRow,
    ApiKeyRow,
    AuditEventRow,
    RevocationFeedRow,
    RevocationRow,
    SessionRow,
    SigningKeyRow,
)
from xpay_auth.storage.reader import Reader

accounts = cast("Table", AccountRow.__table__)
api_keys = cast("Table", ApiKeyRow.__table__)
sessions = cast("Table", SessionRow.__table__)
revocations = cast("Table", RevocationRow.__table__)
revocation_feed = cast("Table", RevocationFeedRow.__table__)
signing_keys = cast("Table", SigningKeyRow.__table__)
audit_events = cast("Table", AuditEventRow.__table__)


class AlreadyExists(Exception):
    """A unique value (a username) is taken."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def _scopes(raw: str) -> tuple[str, ...]:
    return tuple(raw.split())


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        scopes=_scopes(row.scopes),
        password_hash=row.password_hash,
        disabled=bool(row.disabled),  # the direct SQLite read answers 0 or 1
        created_at=row.created_at,
        tokens_not_after=row.tokens_not_after,
        failed_password_attempts=row.failed_password_attempts,
    )


def _api_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        scopes=_scopes(row.scopes),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        previous_secret_hash=row.previous_secret_hash,
        previous_expires_at=row.previous_expires_at,
        allowed_cidrs=tuple((row.allowed_cidrs or "").split()),
    )


def _session(row: Row[Any]) -> Session:
    return Session(
        ticket=row.ticket,
        account_id=row.account_id,
        api_key_id=row.api_key_id,
        is_api=row.is_api,
        scopes=_scopes(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        client_ip=row.client_ip,
        issued_at=row.issued_at,
    )


class AccountRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, account: Account) -> None:
        values = {
            "id": account.id,
            "username": account.username,
            "scopes": " ".join(account.scopes),
            "password_hash": account.password_hash,
            "disabled": account.disabled,
            "failed_password_attempts": 0,
            "created_at": account.created_at,
            "updated_at": account.created_at,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(accounts).values(values))
        except IntegrityError as exc:
            raise AlreadyExists(account.username) from exc

    async def by_username(self, username: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(accounts).where(accounts.c.username == username))
            ).first()
        return _account(row) if row else None

    async def by_id(self, account_id: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        return _account(row) if row else None

    async def search(self, *, query: str | None, offset: int, limit: int) -> Page[Account]:
        condition = accounts.c.username.contains(query, autoescape=True) if query else true()
        async with self._engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(accounts).where(condition))
            ).scalar_one()
            rows = await conn.execute(
                select(accounts)
                .where(condition)
                .order_by(accounts.c.created_at.desc(), accounts.c.id)
                .offset(offset)
                .limit(limit)
            )
            return Page([_account(row) for row in rows], total)

    async def update(self, account_id: str, now: int, **values: Any) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(accounts).where(accounts.c.id == account_id).values(updated_at=now, **values)
            )
        return result.rowcount > 0

    async def set_scopes(self, account_id: str, scopes: Sequence[str], now: int) -> bool:
        return await self.update(account_id, now, scopes=" ".join(scopes))

    async def reserve_password_attempt(self, account_id: str, cap: int) -> int | None:
        """Count one more consecutive failure unless ``cap`` is reached, atomically.

        Returns the new count, or None when the count already stood at ``cap``: a caller
        that gets None must not check the password at all.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id, accounts.c.failed_password_attempts < cap)
                .values(failed_password_attempts=accounts.c.failed_password_attempts + 1)
            )
            if result.rowcount == 0:
                return None
            count = (
                await conn.execute(
                    select(accounts.c.failed_password_attempts).where(accounts.c.id == account_id)
                )
            ).scalar_one()
        return int(count)

    async def update_and_revoke(
        self,
        account_id: str,
        now: int,
        values: Mapping[str, Any],
        *,
        mark: Revocation,
        keep_until: int,
        with_keys: bool = False,
    ) -> list[str]:
        """Change the account and revoke its tokens in one transaction; the keys revoked.

        ``mark`` is the account's revocation, kept until ``keep_until``. ``with_keys``
        revokes every live key of the account too, each with its entry. Either everything
        is stored or nothing is: a failure leaves the account as it was, so that trying
        again makes the whole change.
        """
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts).where(accounts.c.id == account_id).values(updated_at=now, **values)
            )
            revoked: list[str] = []
            if with_keys:
                live = select(api_keys.c.id).where(
                    api_keys.c.account_id == account_id, api_keys.c.revoked_at.is_(None)
                )
                revoked = list((await conn.execute(live.order_by(api_keys.c.id))).scalars())
                if revoked:
                    await conn.execute(
                        update(api_keys).where(api_keys.c.id.in_(revoked)).values(revoked_at=now)
                    )
                for key_id in revoked:
                    key_mark = Revocation(RevocationKind.KEY, key_id)
                    await store_revocation(conn, key_mark, now=now, expires_at=keep_until)
            await store_revocation(conn, mark, now=now, expires_at=keep_until)
        return revoked

    async def add_failed_password_attempt(self, account_id: str) -> int:
        """Count one more consecutive failure, atomically; returns the new count."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(failed_password_attempts=accounts.c.failed_password_attempts + 1)
            )
            count = (
                await conn.execute(
                    select(accounts.c.failed_password_attempts).where(accounts.c.id == account_id)
                )
            ).scalar_one_or_none()
        return int(count or 0)


# Fields a key listing may be ordered on.
_KEY_SORTS = frozenset({"created_at", "name", "expires_at", "last_used_at"})


# Built once: the hot reads skip statement construction and cache-key work per call.
_KEY_WITH_ACCOUNT = (
    select(
        *(column.label(f"key_{column.name}") for column in api_keys.c),
        *(column.label(f"account_{column.name}") for column in accounts.c),
    )
    .join_from(api_keys, accounts, accounts.c.id == api_keys.c.account_id)
    .where(api_keys.c.id == bindparam("key_id"))
)


class ApiKeyRepository:
    def __init__(self, engine: AsyncEngine, reader: Reader) -> None:
        self._engine = engine
        self._reader = reader

    async def create(self, key: ApiKey) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=key.id,
                    account_id=key.account_id,
                    name=key.name,
                    scopes=" ".join(key.scopes),
                    secret_hash=key.secret_hash,
                    allowed_cidrs=" ".join(key.allowed_cidrs) or None,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                )
            )

    async def with_account(self, key_id: str) -> tuple[ApiKey, Account] | None:
        """The key and its account in one indexed read: the API-key login's only query."""
        row = await self._reader.first(_KEY_WITH_ACCOUNT, {"key_id": key_id})
        if row is None:
            return None
        key_part = {column.name: row[f"key_{column.name}"] for column in api_keys.c}
        account_part = {column.name: row[f"account_{column.name}"] for column in accounts.c}
        return _api_key(_Record(key_part)), _account(_Record(account_part))  # type: ignore[arg-type]

    async def by_id(self, key_id: str) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return _api_key(row) if row else None

    async def for_account(
        self,
        account_id: str,
        *,
        offset: int,
        limit: int,
        newest_first: bool = True,
        sort: str = "created_at",
    ) -> Page[ApiKey]:
        """A page of the account's keys ordered on ``sort`` (a key field), never-used last.

        ``newest_first`` orders descending, whatever the field.
        """
        if sort not in _KEY_SORTS:
            raise ValueError(f"cannot sort keys on {sort!r}")
        column = api_keys.c[sort]
        order = (column.desc() if newest_first else column.asc()).nulls_last()
        async with self._engine.connect() as conn:
            total = (
                await conn.execute(
                    select(func.count())
                    .select_from(api_keys)
                    .where(api_keys.c.account_id == account_id)
                )
            ).scalar_one()
            rows = await conn.execute(
                select(api_keys)
                .where(api_keys.c.account_id == account_id)
                .order_by(order, api_keys.c.id)
                .offset(offset)
                .limit(limit)
            )
            return Page([_api_key(row) for row in rows], total)

    async def revoke(self, key_id: str, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return result.rowcount > 0

    async def revoke_with_entry(self, key_id: str, now: int, *, keep_until: int) -> bool:
        """Revoke the key and store its revocation entry in one transaction.

        Whether anything changed: a key revoked already, with its entry stored, changes
        nothing; one revoked without its entry (an older, interrupted revocation) gets it.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            stored = await store_revocation(
                conn, Revocation(RevocationKind.KEY, key_id), now=now, expires_at=keep_until
            )
        return result.rowcount > 0 or stored

    async def revoke_all_of_account(self, account_id: str, now: int) -> list[str]:
        async with self._engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(api_keys.c.id).where(
                            api_keys.c.account_id == account_id, api_keys.c.revoked_at.is_(None)
                        )
                    )
                ).scalars()
            )
            if ids:
                await conn.execute(
                    update(api_keys).where(api_keys.c.id.in_(ids)).values(revoked_at=now)
                )
        return ids

    async def rotate(
        self, key_id: str, *, secret_hash: bytes, previous_hash: bytes, previous_expires_at: int
    ) -> bool:
        """Swap in a new secret hash while the old one stays valid until its deadline."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.secret_hash == previous_hash)
                .values(
                    secret_hash=secret_hash,
                    previous_secret_hash=previous_hash,
                    previous_expires_at=previous_expires_at,
                )
            )
        return result.rowcount > 0

    async def record_last_use(self, last_used: Mapping[str, int]) -> None:
        if not last_used:
            return
        async with self._engine.begin() as conn:
            for key_id, used_at in sorted(last_used.items()):
                await conn.execute(
                    update(api_keys)
                    .where(
                        api_keys.c.id == key_id,
                        or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < used_at),
                    )
                    .values(last_used_at=used_at)
                )


class _Record:
    """Attribute access over a column mapping, so joined rows reuse the row converters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


class SessionRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_many(self, batch: Sequence[Session]) -> None:
        if not batch:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(sessions),
                [
                    {
                        "ticket": item.ticket,
                        "account_id": item.account_id,
                        "api_key_id": item.api_key_id,
                        "is_api": item.is_api,
                        "scopes": " ".join(item.scopes),
                        "client_ip": item.client_ip,
                        "created_at": item.created_at,
                        "expires_at": item.expires_at,
                        "issued_at": item.issued_at,
                    }
                    for item in batch
                ],
            )

    async def by_ticket(self, ticket: str) -> Session | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.ticket == ticket))).first()
        return _session(row) if row else None

    async def live_for_account(self, account_id: str, now: int) -> list[Session]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(sessions)
                .where(sessions.c.account_id == account_id, sessions.c.expires_at > now)
                .order_by(sessions.c.created_at.desc(), sessions.c.ticket)
            )
            return [_session(row) for row in rows]

    async def live_page_for_account(
        self, account_id: str, now: int, *, offset: int, limit: int
    ) -> Page[Session]:
        """Unexpired sessions no revocation matches, newest first.

        The revocation test is :meth:`RevocationSet.is_revoked` in SQL, on the session's
        stored ``iat`` (``created_at`` for rows written before it was kept).
        """
        entry = revocations.alias("entry")
        issued_at = func.coalesce(sessions.c.issued_at, sessions.c.created_at // 1000)
        revoked = or_(
            exists().where(
                entry.c.kind == RevocationKind.TICKET.value, entry.c.subject == sessions.c.ticket
            ),
            exists().where(
                entry.c.kind == RevocationKind.KEY.value, entry.c.subject == sessions.c.api_key_id
            ),
            exists().where(
                entry.c.kind == RevocationKind.ACCOUNT.value,
                entry.c.subject == sessions.c.account_id,
                entry.c.not_after >= issued_at,
                or_(entry.c.except_ticket.is_(None), entry.c.except_ticket != sessions.c.ticket),
            ),
        )
        condition = and_(
            sessions.c.account_id == account_id, sessions.c.expires_at > now, not_(revoked)
        )
        async with self._engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(sessions).where(condition))
            ).scalar_one()
            rows = await conn.execute(
                select(sessions)
                .where(condition)
                .order_by(sessions.c.created_at.desc(), sessions.c.ticket)
                .offset(offset)
                .limit(limit)
            )
            return Page([_session(row) for row in rows], total)

    async def latest_expiry(
        self, *, account_id: str | None = None, key_id: str | None = None
    ) -> int | None:
        """The latest expiry (ms) among the stored sessions of an account or of a key."""
        column = sessions.c.account_id if account_id is not None else sessions.c.api_key_id
        async with self._engine.connect() as conn:
            latest = await conn.execute(
                select(func.max(sessions.c.expires_at)).where(column == (account_id or key_id))
            )
            value = latest.scalar()
        return int(value) if value is not None else None

    async def purge_expired(self, now: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return result.rowcount


def _revoked_statement(*, with_key: bool) -> Select[Any]:
    """Does any revocation match the token? :meth:`RevocationSet.is_revoked` in SQL."""
    matches = [
        and_(
            revocations.c.kind == RevocationKind.TICKET.value,
            revocations.c.subject == bindparam("ticket"),
        ),
        and_(
            revocations.c.kind == RevocationKind.ACCOUNT.value,
            revocations.c.subject == bindparam("account_id"),
            revocations.c.not_after >= bindparam("issued_at"),
            or_(
                revocations.c.except_ticket.is_(None),
                revocations.c.except_ticket != bindparam("ticket"),
            ),
        ),
    ]
    if with_key:
        matches.append(
            and_(
                revocations.c.kind == RevocationKind.KEY.value,
                revocations.c.subject == bindparam("key_id"),
            )
        )
    return select(revocations.c.seq).where(or_(*matches)).limit(1)


_REVOKED = _revoked_statement(with_key=False)
_REVOKED_WITH_KEY = _revoked_statement(with_key=True)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Revocations changed after a cursor, in change order, and where the next page starts."""

    entries: list[RevocationEntry]
    last_seq: int  # the cursor after this page
    more: bool
    generation: str
    head: int  # the feed's last change number when the page was read


_COUNTER_ID = 1


class RevocationRepository:
    def __init__(self, engine: AsyncEngine, reader: Reader) -> None:
        self._engine = engine
        self._reader = reader

    async def record(
        self,
        entry: RevocationEntry,
        *,
        now: int,
        account_id: str | None = None,
        issued_at: int | None = None,
        key_id: str | None = None,
    ) -> bool:
        """Store ``entry`` unless it adds nothing; whether the feed changed (one transaction).

        For a ticket, ``account_id``, ``issued_at`` (the token's iat) and ``key_id`` say
        which account-wide mark or key revocation would already cover it.
        """
        async with self._engine.begin() as conn:
            return await record_revocation(
                conn, entry, now=now, account_id=account_id, issued_at=issued_at, key_id=key_id
            )

    async def add(self, revocation: Revocation, *, now: int, expires_at: int) -> bool:
        """:meth:`record` for a revocation known by its subject alone."""
        return await self.record(RevocationEntry(revocation, expires_at), now=now)

    async def is_revoked(
        self, *, ticket: str, key_id: str | None, account_id: str, issued_at: int
    ) -> bool:
        """One indexed query answering :meth:`RevocationSet.is_revoked` from the database."""
        statement = _REVOKED_WITH_KEY if key_id is not None else _REVOKED
        params = {
            "ticket": ticket,
            "key_id": key_id,
            "account_id": account_id,
            "issued_at": issued_at,
        }
        row = await self._reader.first(statement, params)
        return row is not None

    async def changes(self, *, after: int, now: int, limit: int) -> FeedPage:
        """Up to ``limit`` entries in force changed after number ``after``, oldest change first.

        The counter is read first: every number up to it belongs to a committed change
        (see ``RevocationFeedRow``), so a page ending there has missed nothing before it.
        """
        async with self._engine.connect() as conn:
            head, generation = await _feed_state(conn)
            rows = list(
                await conn.execute(
                    _CHANGES, {"after": after, "upto": head, "now": now, "limit": limit + 1}
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        last_seq = rows[-1].seq if more else max(after, head)
        entries = [_entry(row) for row in rows]
        return FeedPage(entries, last_seq, more, generation, head)

    async def feed_state(self) -> tuple[int, str]:
        """The last change number and the database's generation."""
        async with self._engine.connect() as conn:
            return await _feed_state(conn)

    async def active(self, now: int) -> list[RevocationEntry]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(*_FEED_COLUMNS)
                .where(revocations.c.expires_at > now)
                .order_by(revocations.c.seq)
            )
            return [_entry(row) for row in rows]

    async def purge_expired(self, now: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(revocations).where(revocations.c.expires_at <= now))
        return result.rowcount


_FEED_STATE = select(revocation_feed.c.last_seq, revocation_feed.c.generation).where(
    revocation_feed.c.id == _COUNTER_ID
)
# Until the first revocation after the counter row went missing recreates it.
_NO_GENERATION = "0" * 32


async def _feed_state(conn: AsyncConnection) -> tuple[int, str]:
    counter = (await conn.execute(_FEED_STATE)).first()
    if counter is None:
        in_use = (await conn.execute(select(func.max(revocations.c.seq)))).scalar()
        return int(in_use or 0), _NO_GENERATION
    return int(counter.last_seq), str(counter.generation)


_FEED_COLUMNS = (
    revocations.c.kind,
    revocations.c.subject,
    revocations.c.not_after,
    revocations.c.except_ticket,
    revocations.c.expires_at,
    revocations.c.seq,
)
_CHANGES = (
    select(*_FEED_COLUMNS)
    .where(
        revocations.c.seq > bindparam("after"),
        revocations.c.seq <= bindparam("upto"),
        # "+ 0" keeps the planner on the seq index: walked in order, a page reads about
        # `limit` rows. Through the expires_at index, SQLite would read every row in force
        # and sort them (measured: 140 ms a page with 200,000 in force, against a few ms).
        (revocations.c.expires_at + 0) > bindparam("now"),
    )
    .order_by(revocations.c.seq)
    .limit(bindparam("limit"))
)


_KINDS = {kind.value: kind for kind in RevocationKind}


def _entry(row: Sequence[Any]) -> RevocationEntry:
    # By position, in _FEED_COLUMNS order: a snapshot page converts thousands of rows.
    kind, subject, not_after, except_ticket, expires_at, _seq = row
    return RevocationEntry(Revocation(_KINDS[kind], subject, not_after, except_ticket), expires_at)


_TAKE_NEXT = (
    update(revocation_feed)
    .where(revocation_feed.c.id == _COUNTER_ID)
    .values(last_seq=revocation_feed.c.last_seq + 1)
    .returning(revocation_feed.c.last_seq)
)


async def _next_seq(conn: AsyncConnection) -> int:
    # The first statement writes: it takes the counter row's lock (PostgreSQL) or the
    # database's write lock (SQLite) before anything is read, so revocations are decided
    # one at a time and their numbers commit in order.
    taken = (await conn.execute(_TAKE_NEXT)).scalar_one_or_none()
    if taken is not None:
        return int(taken)
    # The row is gone (the tables were emptied by hand): start a new generation after the
    # numbers still in use, so that every verifier's cursor reads the snapshot again.
    in_use = (await conn.execute(select(func.max(revocations.c.seq)))).scalar()
    values = {"id": _COUNTER_ID, "last_seq": int(in_use or 0), "generation": secrets.token_hex(16)}
    if conn.dialect.name == "postgresql":
        await conn.execute(
            postgresql_insert(revocation_feed).values(values).on_conflict_do_nothing()
        )
    else:
        await conn.execute(sqlite_insert(revocation_feed).values(values).on_conflict_do_nothing())
    return int((await conn.execute(_TAKE_NEXT)).scalar_one())


async def _ticket_covered(
    conn: AsyncConnection,
    ticket: str,
    account_id: str | None,
    issued_at: int | None,
    key_id: str | None,
) -> bool:
    covers = []
    if key_id is not None:
        covers.append(
            and_(revocations.c.kind == RevocationKind.KEY.value, revocations.c.subject == key_id)
        )
    if account_id is not None and issued_at is not None:
        covers.append(
            and_(
                revocations.c.kind == RevocationKind.ACCOUNT.value,
                revocations.c.subject == account_id,
                revocations.c.not_after >= issued_at,
                or_(revocations.c.except_ticket.is_(None), revocations.c.except_ticket != ticket),
            )
        )
    if not covers:
        return False
    found = await conn.execute(select(revocations.c.seq).where(or_(*covers)).limit(1))
    return found.first() is not None


def _account_mark_adds(existing: Row[Any], new: Revocation, expires_at: int) -> bool:
    same = existing.not_after == new.not_after and existing.except_ticket == new.except_ticket
    return not same or expires_at > existing.expires_at


async def record_revocation(
    conn: AsyncConnection,
    entry: RevocationEntry,
    *,
    now: int,
    account_id: str | None = None,
    issued_at: int | None = None,
    key_id: str | None = None,
) -> bool:
    """:meth:`RevocationRepository.record` on an open transaction, to join a larger change.

    Rules: an entry whose tokens have all expired is not stored; a ticket already covered by
    its key's revocation or its account's mark is not stored; repeating a key's revocation
    changes nothing, a ticket's only when it must last longer; an account keeps one mark,
    the latest, which deletes the ticket entries it covers.
    """
    revocation = entry.revocation
    if entry.expires_at <= now:
        return False
    seq = await _next_seq(conn)
    if revocation.kind is RevocationKind.TICKET and await _ticket_covered(
        conn, revocation.subject, account_id, issued_at, key_id
    ):
        return False
    kind, subject = entry.key
    where = and_(revocations.c.kind == kind, revocations.c.subject == subject)
    existing = (await conn.execute(select(revocations).where(where))).first()
    changed = await _write_entry(
        conn, entry, existing, seq=seq, now=now, account_id=account_id, issued_at=issued_at
    )
    newer = existing is None or (revocation.not_after or 0) >= (existing.not_after or 0)
    if changed and newer and revocation.kind is RevocationKind.ACCOUNT:
        # The mark now covers these sessions' tokens: their own entries add nothing.
        await conn.execute(
            delete(revocations).where(
                revocations.c.kind == RevocationKind.TICKET.value,
                revocations.c.account_id == subject,
                revocations.c.issued_at <= (revocation.not_after or 0),
                revocations.c.subject != (revocation.except_ticket or ""),
            )
        )
    return changed


async def store_revocation(
    conn: AsyncConnection, revocation: Revocation, *, now: int, expires_at: int
) -> bool:
    """:func:`record_revocation` for a revocation known by its subject alone."""
    return await record_revocation(conn, RevocationEntry(revocation, expires_at), now=now)


async def _write_entry(
    conn: AsyncConnection,
    entry: RevocationEntry,
    existing: Row[Any] | None,
    *,
    seq: int,
    now: int,
    account_id: str | None,
    issued_at: int | None,
) -> bool:
    revocation = entry.revocation
    kind, subject = entry.key
    where = and_(revocations.c.kind == kind, revocations.c.subject == subject)
    if existing is None:
        await conn.execute(
            insert(revocations).values(
                kind=kind,
                subject=subject,
                not_after=revocation.not_after,
                except_ticket=revocation.except_ticket,
                account_id=account_id,
                issued_at=issued_at,
                created_at=now,
                expires_at=entry.expires_at,
                seq=seq,
            )
        )
    elif revocation.kind is RevocationKind.KEY:
        # A revoked key issues no token afterwards: its first entry outlives every token.
        return False
    elif revocation.kind is RevocationKind.TICKET:
        if entry.expires_at <= existing.expires_at:
            return False
        await conn.execute(
            update(revocations).where(where).values(expires_at=entry.expires_at, seq=seq)
        )
    elif (revocation.not_after or 0) >= (existing.not_after or 0):
        if not _account_mark_adds(existing, revocation, entry.expires_at):
            return False
        await conn.execute(
            update(revocations)
            .where(where)
            .values(
                not_after=revocation.not_after,
                except_ticket=revocation.except_ticket,
                expires_at=max(entry.expires_at, existing.expires_at),
                seq=seq,
            )
        )
    else:
        # An older mark arriving after a newer one (the clocks of two nodes apart). The
        # newer mark covers it, except for the session it spared: end that one too, failing
        # closed rather than letting the older mark's tokens through.
        spared = existing.except_ticket
        if spared is None or spared == revocation.except_ticket:
            return False
        spared_entry = RevocationEntry(
            Revocation(RevocationKind.TICKET, spared), max(entry.expires_at, existing.expires_at)
        )
        return await record_revocation(conn, spared_entry, now=now)
    return True


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    public_jwk: str
    private_key: bytes
    created_at: int
    retired_at: int | None
    publish_until: int | None


class SigningKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> list[StoredSigningKey]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))
            return [
                StoredSigningKey(
                    kid=row.kid,
                    algorithm=row.algorithm,
                    public_jwk=row.public_jwk,
                    private_key=row.private_key,
                    created_at=row.created_at,
                    retired_at=row.retired_at,
                    publish_until=row.publish_until,
                )
                for row in rows
            ]

    async def replace_current(
        self, new: StoredSigningKey, *, now: int, publish_until: int
    ) -> list[str]:
        """Insert ``new`` and retire every other current key, in one transaction."""
        async with self._engine.begin() as conn:
            retired = list(
                (
                    await conn.execute(
                        select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None))
                    )
                ).scalars()
            )
            if retired:
                await conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid.in_(retired))
                    .values(retired_at=now, publish_until=publish_until)
                )
            await conn.execute(
                insert(signing_keys).values(
                    kid=new.kid,
                    algorithm=new.algorithm,
                    public_jwk=new.public_jwk,
                    private_key=new.private_key,
                    created_at=new.created_at,
                )
            )
        return retired

    async def insert_if_none_current(self, new: StoredSigningKey) -> bool:
        """Insert ``new`` unless a current key exists; True when inserted."""
        async with self._engine.begin() as conn:
            current = (
                await conn.execute(
                    select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None)).limit(1)
                )
            ).first()
            if current is not None:
                return False
            await conn.execute(
                insert(signing_keys).values(
                    kid=new.kid,
                    algorithm=new.algorithm,
                    public_jwk=new.public_jwk,
                    private_key=new.private_key,
                    created_at=new.created_at,
                )
            )
        return True

    async def delete_unpublished(self, now: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(signing_keys).where(
                    signing_keys.c.publish_until.is_not(None), signing_keys.c.publish_until <= now
                )
            )
        return result.rowcount


class AuditRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        batch = list(events)
        if not batch:
            return
        async with self._engine.begin() as conn:
            await conn.execute(insert(audit_events), batch)

    async def search(
        self,
        *,
        filters: Mapping[str, Any],
        since: int | None,
        until: int | None,
        offset: int,
        limit: int,
    ) -> Page[dict[str, Any]]:
        conditions = [audit_events.c[name] == value for name, value in filters.items()]
        if since is not None:
            conditions.append(audit_events.c.at >= since)
        if until is not None:
            conditions.append(audit_events.c.at < until)
        where = and_(true(), *conditions)
        async with self._engine.connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(audit_events).where(where))
            ).scalar_one()
            rows = await conn.execute(
                select(audit_events)
                .where(where)
                .order_by(audit_events.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return Page([dict(row._mapping) for row in rows], total)  # noqa: SLF001


class Database:
    """The engine and a repository for each table, built once per process."""

    def __init__(self, engine: AsyncEngine, reader: Reader) -> None:
        self.engine = engine
        self.reader = reader
        self.accounts = AccountRepository(engine)
        self.api_keys = ApiKeyRepository(engine, reader)
        self.sessions = SessionRepository(engine)
        self.revocations = RevocationRepository(engine, reader)
        self.signing_keys = SigningKeyRepository(engine)
        self.audit = AuditRepository(engine)

    async def ping(self) -> None:
        await self.reader.ping()

    async def dispose(self) -> None:
        await self.reader.close()
        await self.engine.dispose()
