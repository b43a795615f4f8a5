"""Signing keys: the sealed private keys tokens are signed with, and their retirement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Insert, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.storage.rows import signing_keys


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    public_jwk: str
    private_key: bytes
    created_at_ms: int
    retired_at_ms: int | None
    publish_until_ms: int | None


def _insert(new: StoredSigningKey) -> Insert:
    return insert(signing_keys).values(
        kid=new.kid,
        algorithm=new.algorithm,
        public_jwk=new.public_jwk,
        private_key=new.private_key,
        created_at_ms=new.created_at_ms,
    )


class SigningKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> list[StoredSigningKey]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at_ms))
            return [
                StoredSigningKey(
                    kid=row.kid,
                    algorithm=row.algorithm,
                    public_jwk=row.public_jwk,
                    private_key=row.private_key,
                    created_at_ms=row.created_at_ms,
                    retired_at_ms=row.retired_at_ms,
                    publish_until_ms=row.publish_until_ms,
                )
                for row in rows
            ]

    async def replace_current(
        self, new: StoredSigningKey, *, now_ms: int, publish_until_ms: int
    ) -> list[str]:
        """Insert ``new`` and retire every other current key, in one transaction."""
        async with self._engine.begin() as conn:
            retired = list(
                (
                    await conn.execute(
                        select(signing_keys.c.kid).where(signing_keys.c.retired_at_ms.is_(None))
                    )
                ).scalars()
            )
            if retired:
                await conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid.in_(retired))
                    .values(retired_at_ms=now_ms, publish_until_ms=publish_until_ms)
                )
            await conn.execute(_insert(new))
        return retired

    async def insert_if_none_current(self, new: StoredSigningKey) -> bool:
        """Insert ``new`` unless a current key exists; True when inserted."""
        async with self._engine.begin() as conn:
            current = (
                await conn.execute(
                    select(signing_keys.c.kid)
                    .where(signing_keys.c.retired_at_ms.is_(None))
                    .limit(1)
                )
            ).first()
            if current is not None:
                return False
            await conn.execute(_insert(new))
        return True

    async def delete_unpublished(self, now_ms: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(signing_keys).where(
                    signing_keys.c.publish_until_ms.is_not(None),
                    signing_keys.c.publish_until_ms <= now_ms,
                )
            )
        return result.rowcount
