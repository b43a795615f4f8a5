"""Migrations on every dialect: from empty to head, step by step, down and up with data."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tests.databases import open_database
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.logs import now_ms
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.storage import migrate, schema_revision
from xpay_auth.storage.models import Base
from xpay_auth.storage.signing_keys import StoredSigningKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine


pytestmark = pytest.mark.anyio

# The tables of the first migration; every later migration must keep their rows.
BASE_TABLES = {
    "accounts": "id",
    "api_keys": "id",
    "sessions": "ticket",
    "revocations": "subject",
    "signing_keys": "kid",
    "audit_events": "event",
}


def _revisions() -> list[str]:
    """Every revision id from the first to the head, in order."""
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def _values(engine: AsyncEngine, table: str) -> list[Any]:
    async with engine.connect() as conn:
        column = BASE_TABLES[table]
        rows = await conn.execute(text(f"SELECT {column} FROM {table} ORDER BY {column}"))  # noqa: S608  fixed names
        return [row[0] for row in rows]


async def _seed(database_url: str) -> dict[str, list[Any]]:
    """One row in every table of the first migration, written by the repositories."""
    now = now_ms()
    account = Account(
        id="acc_" + secrets.token_hex(8),
        username="seeded@example.com",
        scopes=("tme_user",),
        password_hash="$argon2id$seeded",
        disabled=False,
        created_at_ms=now,
    )
    key = ApiKey(
        id=secrets.token_hex(8),
        account_id=account.id,
        name="seeded",
        scopes=("tme_user",),
        secret_hash=secrets.token_bytes(32),
        created_at_ms=now,
    )
    session = Session(
        ticket=secrets.token_hex(16),
        account_id=account.id,
        api_key_id=key.id,
        is_api=True,
        scopes=("tme_user",),
        created_at_ms=now,
        expires_at_ms=now + 3_600_000,
    )
    async with open_database(database_url) as db:
        await db.accounts.create(account)
        await db.api_keys.create(key)
        await db.sessions.insert_many([session])
        await db.revocations.record(
            RevocationEntry(Revocation(RevocationKind.TICKET, session.ticket), now + 1000),
            now_ms=now,
        )
        await db.signing_keys.insert_if_none_current(
            StoredSigningKey("kid-seeded", "ES256", "{}", b"sealed", now, None, None)
        )
        await db.audit.insert_many([{"at_ms": now, "event": "seeded", "outcome": "ok"}])
    return {
        "accounts": [account.id],
        "api_keys": [key.id],
        "sessions": [session.ticket],
        "revocations": [session.ticket],
        "signing_keys": ["kid-seeded"],
        "audit_events": ["seeded"],
    }


async def test_upgrade_from_empty_to_head(engine: AsyncEngine) -> None:
    """An empty database upgrades to the head revision and holds every table of the models."""
    assert await migrate.current_revision(engine) is None
    assert await _tables(engine) == set()
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    assert await _tables(engine) == set(Base.metadata.tables)
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()


async def test_the_revision_read_without_alembic_is_alembics(engine: AsyncEngine) -> None:
    """``schema_revision.HEAD`` is Alembic's head; its one query agrees with Alembic throughout."""
    assert migrate.head_revision() == schema_revision.HEAD
    assert await schema_revision.database_revision(engine) is None
    for revision in _revisions():
        assert not await schema_revision.is_current(engine)
        await migrate.upgrade(engine, revision)
        read = await schema_revision.database_revision(engine)
        assert read == await migrate.current_revision(engine) == revision
    assert await schema_revision.is_current(engine)


async def test_schema_at_head_matches_the_models(engine: AsyncEngine) -> None:
    """The migrated schema and the ORM models agree: no migration is missing."""
    await migrate.upgrade(engine)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_step_by_step_down_and_up_keeps_seeded_rows(
    engine: AsyncEngine, empty_database_url: str
) -> None:
    """Each revision applies in turn; rows survive every downgrade that keeps their table."""
    revisions = _revisions()
    assert revisions[-1] == migrate.head_revision()
    for revision in revisions:
        await migrate.upgrade(engine, revision)
        assert await migrate.current_revision(engine) == revision
    seeded = await _seed(empty_database_url)

    for target in reversed(revisions[:-1]):
        await migrate.downgrade(engine, target)
        assert await migrate.current_revision(engine) == target
        for table, values in seeded.items():
            assert await _values(engine, table) == values, (target, table)
    for revision in revisions[1:]:
        await migrate.upgrade(engine, revision)
        for table, values in seeded.items():
            assert await _values(engine, table) == values, (revision, table)
    assert await migrate.current_revision(engine) == migrate.head_revision()


async def test_downgrade_to_base_and_up_again(engine: AsyncEngine, empty_database_url: str) -> None:
    """Down to base removes every table; up again gives a usable, empty schema."""
    await migrate.upgrade(engine)
    await _seed(empty_database_url)
    await migrate.downgrade(engine, "base")
    assert await migrate.current_revision(engine) is None
    assert await _tables(engine) == set()
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    for table in BASE_TABLES:
        assert await _values(engine, table) == []
    seeded = await _seed(empty_database_url)
    assert await _values(engine, "accounts") == seeded["accounts"]
