"""Revocations in force, one row per (kind, subject), and the rules for storing them.

Whether an entry covers a token is the rule of ``security.revocation_rule``, in SQL through
``storage.revocation_sql``; this module decides what a new revocation adds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.security.revocation_rule import TokenField
from xpay_auth.storage.reader import Reader
from xpay_auth.storage.revocation_feed import (
    CHANGES,
    FEED_COLUMNS,
    FeedPage,
    entry_from_row,
    feed_state,
    next_seq,
)
from xpay_auth.storage.revocation_sql import Operand, any_revokes, revoked_by
from xpay_auth.storage.rows import revocations

# A bearer check: does any entry revoke the token whose fields are bound? Built once.
_BOUND_TOKEN: dict[TokenField, Operand] = {field: bindparam(field.value) for field in TokenField}
_REVOKED = (
    select(revocations.c.seq)
    .where(any_revokes(revocations, _BOUND_TOKEN, (RevocationKind.TICKET, RevocationKind.ACCOUNT)))
    .limit(1)
)
_REVOKED_WITH_KEY = (
    select(revocations.c.seq).where(any_revokes(revocations, _BOUND_TOKEN, RevocationKind)).limit(1)
)


class RevocationRepository:
    def __init__(self, engine: AsyncEngine, reader: Reader) -> None:
        self._engine = engine
        self._reader = reader

    async def record(
        self,
        entry: RevocationEntry,
        *,
        now_ms: int,
        account_id: str | None = None,
        issued_at_s: int | None = None,
        key_id: str | None = None,
    ) -> bool:
        """Store ``entry`` unless it adds nothing; whether the feed changed (one transaction).

        For a ticket, ``account_id``, ``issued_at_s`` (the token's iat) and ``key_id`` say
        which account-wide mark or key revocation would already cover it.
        """
        async with self._engine.begin() as conn:
            return await record_revocation(
                conn,
                entry,
                now_ms=now_ms,
                account_id=account_id,
                issued_at_s=issued_at_s,
                key_id=key_id,
            )

    async def add(self, revocation: Revocation, *, now_ms: int, expires_at_ms: int) -> bool:
        """:meth:`record` for a revocation known by its subject alone."""
        return await self.record(RevocationEntry(revocation, expires_at_ms), now_ms=now_ms)

    async def is_revoked(
        self, *, ticket: str, key_id: str | None, account_id: str, issued_at_s: int
    ) -> bool:
        """One indexed query answering :meth:`RevocationSet.is_revoked` from the database."""
        statement = _REVOKED_WITH_KEY if key_id is not None else _REVOKED
        params = {
            TokenField.TICKET.value: ticket,
            TokenField.KEY_ID.value: key_id,
            TokenField.ACCOUNT_ID.value: account_id,
            TokenField.ISSUED_AT_S.value: issued_at_s,
        }
        row = await self._reader.first(statement, params)
        return row is not None

    async def changes(self, *, after: int, now_ms: int, limit: int) -> FeedPage:
        """Up to ``limit`` entries in force changed after number ``after``, oldest change first.

        The counter is read first: every number up to it belongs to a committed change
        (see ``RevocationFeedRow``), so a page ending there has missed nothing before it.
        """
        async with self._engine.connect() as conn:
            head, generation = await feed_state(conn)
            rows = list(
                await conn.execute(
                    CHANGES, {"after": after, "upto": head, "now_ms": now_ms, "limit": limit + 1}
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        last_seq = rows[-1].seq if more else max(after, head)
        entries = [entry_from_row(row) for row in rows]
        return FeedPage(entries, last_seq, more, generation, head)

    async def feed_state(self) -> tuple[int, str]:
        """The last change number and the database's generation."""
        async with self._engine.connect() as conn:
            return await feed_state(conn)

    async def active(self, now_ms: int) -> list[RevocationEntry]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(*FEED_COLUMNS)
                .where(revocations.c.expires_at_ms > now_ms)
                .order_by(revocations.c.seq)
            )
            return [entry_from_row(row) for row in rows]

    async def purge_expired(self, now_ms: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(revocations).where(revocations.c.expires_at_ms <= now_ms)
            )
        return result.rowcount


async def _ticket_covered(
    conn: AsyncConnection,
    ticket: str,
    account_id: str | None,
    issued_at_s: int | None,
    key_id: str | None,
) -> bool:
    """Whether the key's revocation or the account's mark already revokes the ticket's token."""
    token = {
        TokenField.TICKET: ticket,
        TokenField.KEY_ID: key_id,
        TokenField.ACCOUNT_ID: account_id,
        TokenField.ISSUED_AT_S: issued_at_s,
    }
    covering = any_revokes(revocations, token, (RevocationKind.KEY, RevocationKind.ACCOUNT))
    found = await conn.execute(select(revocations.c.seq).where(covering).limit(1))
    return found.first() is not None


def _account_mark_adds(existing: Row[Any], new: Revocation, expires_at_ms: int) -> bool:
    same = existing.not_after_s == new.not_after_s and existing.except_ticket == new.except_ticket
    return not same or expires_at_ms > existing.expires_at_ms


async def record_revocation(
    conn: AsyncConnection,
    entry: RevocationEntry,
    *,
    now_ms: int,
    account_id: str | None = None,
    issued_at_s: int | None = None,
    key_id: str | None = None,
) -> bool:
    """:meth:`RevocationRepository.record` on an open transaction, to join a larger change.

    Rules: an entry whose tokens have all expired is not stored; a ticket already covered by
    its key's revocation or its account's mark is not stored; repeating a key's revocation
    changes nothing, a ticket's only when it must last longer; an account keeps one mark,
    the latest, which deletes the ticket entries it covers.
    """
    revocation = entry.revocation
    if entry.expires_at_ms <= now_ms:
        return False
    seq = await next_seq(conn)
    if revocation.kind is RevocationKind.TICKET and await _ticket_covered(
        conn, revocation.subject, account_id, issued_at_s, key_id
    ):
        return False
    kind, subject = entry.key
    where = and_(revocations.c.kind == kind, revocations.c.subject == subject)
    existing = (await conn.execute(select(revocations).where(where))).first()
    changed = await _write_entry(
        conn,
        entry,
        existing,
        seq=seq,
        now_ms=now_ms,
        account_id=account_id,
        issued_at_s=issued_at_s,
    )
    newer = existing is None or (revocation.not_after_s or 0) >= (existing.not_after_s or 0)
    if changed and newer and revocation.kind is RevocationKind.ACCOUNT:
        # The mark now covers these sessions' tokens: their own entries add nothing.
        await conn.execute(delete(revocations).where(_tickets_covered_by(revocation)))
    return changed


def _tickets_covered_by(mark: Revocation) -> Any:
    """The ticket entries whose token (the ticket, its account and iat) ``mark`` revokes."""
    token_of_entry = {
        TokenField.TICKET: revocations.c.subject,
        TokenField.ACCOUNT_ID: revocations.c.account_id,
        TokenField.ISSUED_AT_S: revocations.c.issued_at_s,
    }
    return and_(
        revocations.c.kind == RevocationKind.TICKET.value,
        revoked_by(
            mark.kind,
            subject=mark.subject,
            entry=mark.fields(),
            token=token_of_entry,
        ),
    )


async def store_revocation(
    conn: AsyncConnection, revocation: Revocation, *, now_ms: int, expires_at_ms: int
) -> bool:
    """:func:`record_revocation` for a revocation known by its subject alone."""
    return await record_revocation(conn, RevocationEntry(revocation, expires_at_ms), now_ms=now_ms)


async def _write_entry(
    conn: AsyncConnection,
    entry: RevocationEntry,
    existing: Row[Any] | None,
    *,
    seq: int,
    now_ms: int,
    account_id: str | None,
    issued_at_s: int | None,
) -> bool:
    revocation = entry.revocation
    kind, subject = entry.key
    where = and_(revocations.c.kind == kind, revocations.c.subject == subject)
    if existing is None:
        await conn.execute(
            insert(revocations).values(
                kind=kind,
                subject=subject,
                not_after_s=revocation.not_after_s,
                except_ticket=revocation.except_ticket,
                account_id=account_id,
                issued_at_s=issued_at_s,
                created_at_ms=now_ms,
                expires_at_ms=entry.expires_at_ms,
                seq=seq,
            )
        )
    elif revocation.kind is RevocationKind.KEY:
        # A revoked key issues no token afterwards: its first entry outlives every token.
        return False
    elif revocation.kind is RevocationKind.TICKET:
        if entry.expires_at_ms <= existing.expires_at_ms:
            return False
        await conn.execute(
            update(revocations).where(where).values(expires_at_ms=entry.expires_at_ms, seq=seq)
        )
    elif (revocation.not_after_s or 0) >= (existing.not_after_s or 0):
        if not _account_mark_adds(existing, revocation, entry.expires_at_ms):
            return False
        await conn.execute(
            update(revocations)
            .where(where)
            .values(
                not_after_s=revocation.not_after_s,
                except_ticket=revocation.except_ticket,
                expires_at_ms=max(entry.expires_at_ms, existing.expires_at_ms),
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
            Revocation(RevocationKind.TICKET, spared),
            max(entry.expires_at_ms, existing.expires_at_ms),
        )
        return await record_revocation(conn, spared_entry, now_ms=now_ms)
    return True
