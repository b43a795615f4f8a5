"""Accounts: one row each, and the changes that revoke an account's tokens with them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.domain import Account
from xpay_auth.security.revocation import Revocation, RevocationKind
from xpay_auth.storage.revocations import store_revocation
from xpay_auth.storage.rows import (
    AlreadyExists,
    Page,
    account_from_row,
    accounts,
    api_keys,
    fetch_page,
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
            "created_at_ms": account.created_at_ms,
            "updated_at_ms": account.created_at_ms,
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
        return account_from_row(row) if row else None

    async def by_id(self, account_id: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        return account_from_row(row) if row else None

    async def search(self, *, query: str | None, offset: int, limit: int) -> Page[Account]:
        condition = accounts.c.username.contains(query, autoescape=True) if query else true()
        order = (accounts.c.created_at_ms.desc(), accounts.c.id)
        return await fetch_page(
            self._engine,
            accounts,
            condition,
            order,
            offset=offset,
            limit=limit,
            convert=account_from_row,
        )

    async def update(self, account_id: str, now_ms: int, **values: Any) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(updated_at_ms=now_ms, **values)
            )
        return result.rowcount > 0

    async def set_scopes(self, account_id: str, scopes: Sequence[str], now_ms: int) -> bool:
        return await self.update(account_id, now_ms, scopes=" ".join(scopes))

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
        now_ms: int,
        values: Mapping[str, Any],
        *,
        mark: Revocation,
        keep_until_ms: int,
        with_keys: bool = False,
    ) -> list[str]:
        """Change the account and revoke its tokens in one transaction; the keys revoked.

        ``mark`` is the account's revocation, kept until ``keep_until_ms``. ``with_keys``
        revokes every live key of the account too, each with its entry. Either everything
        is stored or nothing is: a failure leaves the account as it was, so that trying
        again makes the whole change.
        """
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(updated_at_ms=now_ms, **values)
            )
            revoked: list[str] = []
            if with_keys:
                live = select(api_keys.c.id).where(
                    api_keys.c.account_id == account_id, api_keys.c.revoked_at_ms.is_(None)
                )
                revoked = list((await conn.execute(live.order_by(api_keys.c.id))).scalars())
                if revoked:
                    await conn.execute(
                        update(api_keys)
                        .where(api_keys.c.id.in_(revoked))
                        .values(revoked_at_ms=now_ms)
                    )
                for key_id in revoked:
                    key_mark = Revocation(RevocationKind.KEY, key_id)
                    await store_revocation(
                        conn, key_mark, now_ms=now_ms, expires_at_ms=keep_until_ms
                    )
            await store_revocation(conn, mark, now_ms=now_ms, expires_at_ms=keep_until_ms)
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
