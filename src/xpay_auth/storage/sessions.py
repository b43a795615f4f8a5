"""Sessions: one row per ticket, written by the committer in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, exists, func, insert, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.domain import Session
from xpay_auth.security.revocation import RevocationKind
from xpay_auth.security.revocation_rule import TokenField
from xpay_auth.storage.revocation_sql import entry_columns, revoked_by
from xpay_auth.storage.rows import MS_PER_S, Page, fetch_page, revocations, scopes_of, sessions


def _session(row: Row[Any]) -> Session:
    return Session(
        ticket=row.ticket,
        account_id=row.account_id,
        api_key_id=row.api_key_id,
        is_api=row.is_api,
        scopes=scopes_of(row.scopes),
        created_at_ms=row.created_at_ms,
        expires_at_ms=row.expires_at_ms,
        client_ip=row.client_ip,
        issued_at_s=row.issued_at_s,
    )


# The second a session was created in: the token's iat for rows written before it was kept.
_CREATED_AT_S = sessions.c.created_at_ms // MS_PER_S


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
                        "created_at_ms": item.created_at_ms,
                        "expires_at_ms": item.expires_at_ms,
                        "issued_at_s": item.issued_at_s,
                    }
                    for item in batch
                ],
            )

    async def by_ticket(self, ticket: str) -> Session | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.ticket == ticket))).first()
        return _session(row) if row else None

    async def live_for_account(self, account_id: str, now_ms: int) -> list[Session]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(sessions)
                .where(sessions.c.account_id == account_id, sessions.c.expires_at_ms > now_ms)
                .order_by(sessions.c.created_at_ms.desc(), sessions.c.ticket)
            )
            return [_session(row) for row in rows]

    async def live_page_for_account(
        self, account_id: str, now_ms: int, *, offset: int, limit: int
    ) -> Page[Session]:
        """Unexpired sessions no revocation matches, newest first.

        The revocation test is the rule of ``security.revocation_rule`` on the session's
        stored ``iat`` (``created_at_ms`` for rows written before it was kept).
        """
        entry = revocations.alias("entry")
        token = {
            TokenField.TICKET: sessions.c.ticket,
            TokenField.KEY_ID: sessions.c.api_key_id,
            TokenField.ACCOUNT_ID: sessions.c.account_id,
            TokenField.ISSUED_AT_S: func.coalesce(sessions.c.issued_at_s, _CREATED_AT_S),
        }
        # One EXISTS a kind, each on the (kind, subject) key, rather than one over an OR.
        revoked = or_(
            *(
                exists().where(
                    revoked_by(
                        kind,
                        kind_column=entry.c.kind,
                        subject=entry.c.subject,
                        entry=entry_columns(entry),
                        token=token,
                    )
                )
                for kind in RevocationKind
            )
        )
        condition = and_(
            sessions.c.account_id == account_id, sessions.c.expires_at_ms > now_ms, not_(revoked)
        )
        order = (sessions.c.created_at_ms.desc(), sessions.c.ticket)
        return await fetch_page(
            self._engine, sessions, condition, order, offset=offset, limit=limit, convert=_session
        )

    async def latest_expiry(
        self, *, account_id: str | None = None, key_id: str | None = None
    ) -> int | None:
        """The latest expiry (ms) among the stored sessions of an account or of a key."""
        column = sessions.c.account_id if account_id is not None else sessions.c.api_key_id
        async with self._engine.connect() as conn:
            latest = await conn.execute(
                select(func.max(sessions.c.expires_at_ms)).where(column == (account_id or key_id))
            )
            value = latest.scalar()
        return int(value) if value is not None else None

    async def purge_expired(self, now_ms: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.expires_at_ms <= now_ms))
        return result.rowcount
