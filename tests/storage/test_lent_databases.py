"""A PostgreSQL database lent to a test comes back empty, so no test sees another's rows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg
import pytest

from tests.conftest import _asyncpg_dsn, make_settings
from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts, api_keys

if TYPE_CHECKING:
    from tests.conftest import PostgresDatabases


async def _fill(url: str) -> None:
    """Rows in every table a service writes: account, key, signing key, audit, revocation."""
    async with open_runtime(make_settings(url)) as runtime:
        account = await accounts.create_account(runtime.services.accounts, "lent@example.com")
        issued = await api_keys.create_key(runtime.services.keys, account, name="lent")
        await api_keys.revoke_key(runtime.services.keys, issued.key)


async def _rows_and_sequences(url: str) -> tuple[dict[str, int], set[bool]]:
    """Rows per table, and whether each sequence has handed out a value yet."""
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        tables = await conn.fetch(
            "SELECT oid::regclass::text AS name FROM pg_class WHERE relkind = 'r'"
            " AND relnamespace = 'public'::regnamespace AND relname <> 'alembic_version'"
        )
        rows = {
            table["name"]: int(await conn.fetchval(f"SELECT count(*) FROM {table['name']}"))  # noqa: S608
            for table in tables
        }
        sequences = await conn.fetch(
            "SELECT oid::regclass::text AS name FROM pg_class WHERE relkind = 'S'"
            " AND relnamespace = 'public'::regnamespace"
        )
        called = {
            bool(await conn.fetchval(f"SELECT is_called FROM {sequence['name']}"))  # noqa: S608
            for sequence in sequences
        }
        return rows, called
    finally:
        await conn.close()


@pytest.mark.postgres
def test_a_database_given_back_is_lent_again_without_rows(
    postgres_databases: PostgresDatabases,
) -> None:
    """Rows in tables that refer to each other are all gone, and the sequences start again."""
    url = postgres_databases.lend_database()
    asyncio.run(_fill(url))
    rows, called = asyncio.run(_rows_and_sequences(url))
    assert {rows[table] > 0 for table in ("accounts", "api_keys", "audit_events")} == {True}
    assert rows["revocations"] > 0
    assert called == {True}
    postgres_databases.give_back(url)

    again = postgres_databases.lend_database()
    try:
        assert again == url, "the emptied database was not lent again"
        rows, called = asyncio.run(_rows_and_sequences(again))
        assert set(rows.values()) == {0}, rows
        assert called == {False}
    finally:
        postgres_databases.give_back(again)
