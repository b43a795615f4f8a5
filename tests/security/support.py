"""Helpers for the security tests: what the database holds, read behind the service's back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, func, select, table
from sqlalchemy.engine import make_url

from xpay_auth.storage.engine import create_engine

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncEngine

# The tables a refused request must leave as they were. The audit trail is left out on
# purpose: recording the refusal is the one write a failed attempt makes.
STATE_TABLES = ("accounts", "api_keys", "sessions", "revocations", "signing_keys")


async def table_counts(engine: AsyncEngine, tables: Iterable[str] = STATE_TABLES) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: (await conn.execute(select(func.count()).select_from(table(name)))).scalar_one()
            for name in tables
        }


async def _dump(engine: AsyncEngine) -> str:
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        parts: list[str] = []
        for name, reflected in metadata.tables.items():
            rows = (await conn.execute(select(reflected))).all()
            parts.extend(f"{name}: {tuple(row)!r}" for row in rows)
    return "\n".join(parts)


def _sqlite_bytes(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return ""
    paths = [Path(parsed.database + suffix) for suffix in ("", "-wal")]
    return "\n".join(path.read_bytes().decode("latin-1") for path in paths if path.exists())


async def database_text(url: str) -> str:
    """Every row of every table as text, and for SQLite the raw bytes of its files too."""
    engine = create_engine(url)
    try:
        text = await _dump(engine)
    finally:
        await engine.dispose()
    return text + "\n" + _sqlite_bytes(url)


def audit_rows(rows: Iterable[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The rows whose fields equal every ``match`` value."""
    return [row for row in rows if all(row.get(name) == value for name, value in match.items())]
