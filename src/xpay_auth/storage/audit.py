"""The audit trail: events written in batches, searched newest first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, insert, true
from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.storage.rows import Page, audit_events, fetch_page


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
        since_ms: int | None,
        until_ms: int | None,
        offset: int,
        limit: int,
    ) -> Page[dict[str, Any]]:
        conditions = [audit_events.c[name] == value for name, value in filters.items()]
        if since_ms is not None:
            conditions.append(audit_events.c.at_ms >= since_ms)
        if until_ms is not None:
            conditions.append(audit_events.c.at_ms < until_ms)
        where = and_(true(), *conditions)
        return await fetch_page(
            self._engine,
            audit_events,
            where,
            (audit_events.c.id.desc(),),
            offset=offset,
            limit=limit,
            convert=lambda row: dict(row._mapping),  # noqa: SLF001
        )
