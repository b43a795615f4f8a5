"""Signing keys: the sealed private keys tokens are signed with, and their retirement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.storage.rows import signing_keys


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
