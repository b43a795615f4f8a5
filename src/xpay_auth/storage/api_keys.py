"""API keys: their secrets' hashes, rotation, revocation, and the login's one read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.domain import Account, ApiKey
from xpay_auth.security.revocation import Revocation, RevocationKind
from xpay_auth.storage.reader import Reader
from xpay_auth.storage.revocations import store_revocation
from xpay_auth.storage.rows import (
    Page,
    Record,
    account_from_row,
    accounts,
    api_keys,
    fetch_page,
    scopes_of,
)


def _api_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        scopes=scopes_of(row.scopes),
        secret_hash=row.secret_hash,
        created_at_ms=row.created_at_ms,
        expires_at_ms=row.expires_at_ms,
        revoked_at_ms=row.revoked_at_ms,
        last_used_at_ms=row.last_used_at_ms,
        previous_secret_hash=row.previous_secret_hash,
        previous_expires_at_ms=row.previous_expires_at_ms,
        allowed_cidrs=tuple((row.allowed_cidrs or "").split()),
    )


# Fields a key listing may be ordered on.
_KEY_SORTS = frozenset({"created_at_ms", "name", "expires_at_ms", "last_used_at_ms"})


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
                    created_at_ms=key.created_at_ms,
                    expires_at_ms=key.expires_at_ms,
                )
            )

    async def with_account(self, key_id: str) -> tuple[ApiKey, Account] | None:
        """The key and its account in one indexed read: the API-key login's only query."""
        row = await self._reader.first(_KEY_WITH_ACCOUNT, {"key_id": key_id})
        if row is None:
            return None
        key_part = {column.name: row[f"key_{column.name}"] for column in api_keys.c}
        account_part = {column.name: row[f"account_{column.name}"] for column in accounts.c}
        return _api_key(Record(key_part)), account_from_row(Record(account_part))  # type: ignore[arg-type]

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
        sort: str = "created_at_ms",
    ) -> Page[ApiKey]:
        """A page of the account's keys ordered on ``sort`` (a key field), never-used last.

        ``newest_first`` orders descending, whatever the field.
        """
        if sort not in _KEY_SORTS:
            raise ValueError(f"cannot sort keys on {sort!r}")
        column = api_keys.c[sort]
        order = (column.desc() if newest_first else column.asc()).nulls_last()
        return await fetch_page(
            self._engine,
            api_keys,
            api_keys.c.account_id == account_id,
            (order, api_keys.c.id),
            offset=offset,
            limit=limit,
            convert=_api_key,
        )

    async def revoke(self, key_id: str, now_ms: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at_ms.is_(None))
                .values(revoked_at_ms=now_ms)
            )
        return result.rowcount > 0

    async def revoke_with_entry(self, key_id: str, now_ms: int, *, keep_until_ms: int) -> bool:
        """Revoke the key and store its revocation entry in one transaction.

        Whether anything changed: a key revoked already, with its entry stored, changes
        nothing; one revoked without its entry (an older, interrupted revocation) gets it.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at_ms.is_(None))
                .values(revoked_at_ms=now_ms)
            )
            stored = await store_revocation(
                conn,
                Revocation(RevocationKind.KEY, key_id),
                now_ms=now_ms,
                expires_at_ms=keep_until_ms,
            )
        return result.rowcount > 0 or stored

    async def revoke_all_of_account(self, account_id: str, now_ms: int) -> list[str]:
        async with self._engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(api_keys.c.id).where(
                            api_keys.c.account_id == account_id, api_keys.c.revoked_at_ms.is_(None)
                        )
                    )
                ).scalars()
            )
            if ids:
                await conn.execute(
                    update(api_keys).where(api_keys.c.id.in_(ids)).values(revoked_at_ms=now_ms)
                )
        return ids

    async def rotate(
        self, key_id: str, *, secret_hash: bytes, previous_hash: bytes, previous_expires_at_ms: int
    ) -> bool:
        """Swap in a new secret hash while the old one stays valid until its deadline."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.secret_hash == previous_hash)
                .values(
                    secret_hash=secret_hash,
                    previous_secret_hash=previous_hash,
                    previous_expires_at_ms=previous_expires_at_ms,
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
                        or_(
                            api_keys.c.last_used_at_ms.is_(None),
                            api_keys.c.last_used_at_ms < used_at,
                        ),
                    )
                    .values(last_used_at_ms=used_at)
                )
