"""What the repositories share: the tables as Core objects, pages, and row conversions.

Repositories take and return the records of ``xpay_auth.domain``; no ORM row leaves storage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Row, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.domain import Account
from xpay_auth.storage.models import (
    AccountRow,
    ApiKeyRow,
    AuditEventRow,
    RevocationFeedRow,
    RevocationRow,
    SessionRow,
    SigningKeyRow,
)

accounts = cast("Table", AccountRow.__table__)
api_keys = cast("Table", ApiKeyRow.__table__)
sessions = cast("Table", SessionRow.__table__)
revocations = cast("Table", RevocationRow.__table__)
revocation_feed = cast("Table", RevocationFeedRow.__table__)
signing_keys = cast("Table", SigningKeyRow.__table__)
audit_events = cast("Table", AuditEventRow.__table__)


MS_PER_S = 1000


class AlreadyExists(Exception):
    """A unique value (a username) is taken."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


async def fetch_page(
    engine: AsyncEngine,
    table: Table,
    where: ColumnElement[bool],
    order_by: tuple[ColumnElement[Any], ...],
    *,
    offset: int,
    limit: int,
    convert: Callable[[Row[Any]], T],
) -> Page[T]:
    """The rows of ``table`` matching ``where``, in ``order_by`` order, and their total count."""
    async with engine.connect() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(table).where(where))
        ).scalar_one()
        rows = await conn.execute(
            select(table).where(where).order_by(*order_by).offset(offset).limit(limit)
        )
        return Page([convert(row) for row in rows], total)


def scopes_of(raw: str) -> tuple[str, ...]:
    return tuple(raw.split())


def account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        scopes=scopes_of(row.scopes),
        password_hash=row.password_hash,
        disabled=bool(row.disabled),  # the direct SQLite read answers 0 or 1
        created_at_ms=row.created_at_ms,
        tokens_not_after_s=row.tokens_not_after_s,
        failed_password_attempts=row.failed_password_attempts,
    )


class Record:
    """Attribute access over a column mapping, so joined rows reuse the row converters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
