"""Migration 0004 renames every time column to say its unit, keeping every row's values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import inspect, text

from xpay_auth.storage import migrate

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.anyio

BEFORE = "0003_revocation_feed"
AFTER = "0004_units_in_names"
NOW_MS = 1_796_000_000_123
NOW_S = NOW_MS // 1000

# One row a table as revision 0003 names its columns, each time distinct, so that a value
# moved to the wrong column shows.
ROWS_AT_0003: dict[str, dict[str, Any]] = {
    "accounts": {
        "id": "acc_0004",
        "username": "units@example.com",
        "scopes": "tme_user",
        "password_hash": None,
        "disabled": False,
        "tokens_not_after": NOW_S - 1,
        "failed_password_attempts": 2,
        "created_at": NOW_MS - 3,
        "updated_at": NOW_MS - 2,
    },
    "api_keys": {
        "id": "key_0004",
        "account_id": "acc_0004",
        "name": "units",
        "scopes": "tme_user",
        "secret_hash": b"\x01" * 32,
        "previous_secret_hash": b"\x02" * 32,
        "previous_expires_at": NOW_MS + 11,
        "allowed_cidrs": "10.0.0.0/8",
        "created_at": NOW_MS - 13,
        "expires_at": NOW_MS + 14,
        "revoked_at": NOW_MS + 15,
        "last_used_at": NOW_MS + 16,
    },
    "sessions": {
        "ticket": "a" * 32,
        "account_id": "acc_0004",
        "api_key_id": "key_0004",
        "is_api": True,
        "scopes": "tme_user",
        "client_ip": "10.1.2.3",
        "created_at": NOW_MS - 21,
        "expires_at": NOW_MS + 22,
        "issued_at": NOW_S - 23,
    },
    "revocations": {
        "kind": "ticket",
        "subject": "b" * 32,
        "not_after": NOW_S - 31,
        "except_ticket": "c" * 32,
        "account_id": "acc_0004",
        "issued_at": NOW_S - 32,
        "created_at": NOW_MS - 33,
        "expires_at": NOW_MS + 34,
        "seq": 7,
    },
    "signing_keys": {
        "kid": "kid_0004",
        "algorithm": "ES256",
        "public_jwk": "{}",
        "private_key": b"sealed",
        "created_at": NOW_MS - 41,
        "retired_at": NOW_MS - 42,
        "publish_until": NOW_MS + 43,
    },
    "audit_events": {
        "id": 5,
        "at": NOW_MS - 51,
        "event": "units.checked",
        "outcome": "ok",
        "username": "units@example.com",
        "account_id": "acc_0004",
        "key_id": "key_0004",
        "ticket": "a" * 32,
        "client_ip": "10.1.2.3",
        "request_uuid": None,
        "error_tag": None,
        "actor": None,
        "detail": "{}",
    },
}
# Old name -> new name, for every column 0004 renames.
RENAMED = {
    "accounts": {
        "tokens_not_after": "tokens_not_after_s",
        "created_at": "created_at_ms",
        "updated_at": "updated_at_ms",
    },
    "api_keys": {
        "previous_expires_at": "previous_expires_at_ms",
        "created_at": "created_at_ms",
        "expires_at": "expires_at_ms",
        "revoked_at": "revoked_at_ms",
        "last_used_at": "last_used_at_ms",
    },
    "sessions": {
        "created_at": "created_at_ms",
        "expires_at": "expires_at_ms",
        "issued_at": "issued_at_s",
    },
    "revocations": {
        "not_after": "not_after_s",
        "issued_at": "issued_at_s",
        "created_at": "created_at_ms",
        "expires_at": "expires_at_ms",
    },
    "signing_keys": {
        "created_at": "created_at_ms",
        "retired_at": "retired_at_ms",
        "publish_until": "publish_until_ms",
    },
    "audit_events": {"at": "at_ms"},
}
INDEXES_AT_HEAD = {
    "sessions": "ix_sessions_expires_at_ms",
    "revocations": "ix_revocations_expires_at_ms",
    "audit_events": "ix_audit_events_at_ms",
}


def _renamed(table: str, row: dict[str, Any]) -> dict[str, Any]:
    names = RENAMED[table]
    return {names.get(column, column): value for column, value in row.items()}


async def _insert(engine: AsyncEngine, rows: dict[str, dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        for table, row in rows.items():
            columns = ", ".join(row)
            values = ", ".join(f":{column}" for column in row)
            await conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)  # noqa: S608  fixed names


async def _read(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608  fixed names
        return [_plain(dict(row._mapping)) for row in rows]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite answers booleans as 0 or 1, PostgreSQL bytea as memoryview on some drivers.
    return {
        name: bytes(value) if isinstance(value, memoryview) else value
        for name, value in row.items()
    }


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {name: int(value) if isinstance(value, bool) else value for name, value in row.items()}


async def _indexes(engine: AsyncEngine, table: str) -> set[str]:
    def names(sync: Connection) -> set[str]:
        return {str(index["name"]) for index in inspect(sync).get_indexes(table)}

    async with engine.connect() as conn:
        return await conn.run_sync(names)


async def test_0004_renames_populated_columns_and_back(engine: AsyncEngine) -> None:
    """Rows written at 0003 read the same under the new names at 0004, and again after a
    downgrade to 0003 under the old ones; the indexes on renamed columns follow them."""
    await migrate.upgrade(engine, BEFORE)
    await _insert(engine, ROWS_AT_0003)

    await migrate.upgrade(engine, AFTER)
    assert await migrate.current_revision(engine) == AFTER
    for table, row in ROWS_AT_0003.items():
        assert [_comparable(r) for r in await _read(engine, table)] == [
            _comparable(_renamed(table, row))
        ], table
    for table, index in INDEXES_AT_HEAD.items():
        assert index in await _indexes(engine, table)

    await migrate.downgrade(engine, BEFORE)
    assert await migrate.current_revision(engine) == BEFORE
    for table, row in ROWS_AT_0003.items():
        assert [_comparable(r) for r in await _read(engine, table)] == [_comparable(row)], table
    assert "ix_sessions_expires_at" in await _indexes(engine, "sessions")
