"""The schema revision this code runs on, read from a database without loading Alembic.

Alembic, with Mako and, where it is installed, Pygments beneath it, is a sixth of a CLI
command's start-up. Commands and ``serve`` therefore compare the database's revision with
``HEAD`` in one query and load ``storage.migrate`` only to migrate.
``tests/storage/test_migrations.py`` checks that ``HEAD`` is Alembic's head revision.
"""

from __future__ import annotations

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

HEAD = "0004_units_in_names"

# Alembic's bookkeeping table: one row, the revision the schema is at.
_VERSION = table("alembic_version", column("version_num"))


async def database_revision(engine: AsyncEngine) -> str | None:
    """The revision the database records; None for a database Alembic never migrated."""

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table(_VERSION.name):
            return None
        revision: str | None = connection.execute(select(_VERSION.c.version_num)).scalar()
        return revision

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def is_current(engine: AsyncEngine) -> bool:
    return await database_revision(engine) == HEAD
