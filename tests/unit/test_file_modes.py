"""The SQLite database, its WAL files and the secret file are private to their owner."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import stat
from typing import TYPE_CHECKING

import pytest

from tests.conftest import make_settings
from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts
from xpay_auth.settings import SECRET_FILE_NAME, Environment, SettingsError
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.migrate import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that makes new files world-readable, as most systems default to."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _migrate_and_write(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    settings = make_settings(url)
    async with open_runtime(settings) as runtime:
        await accounts.create_account(runtime.services.accounts, "pat@example.com")
        # Checked while the runtime is open, when SQLite keeps its WAL files.
        await runtime.audit.record("test.written", "ok", None)
        folder = settings.sqlite_path
        assert folder is not None
        for suffix in ("-wal", "-shm"):
            companion = folder.with_name(folder.name + suffix)
            assert _mode(companion) == 0o600, (companion, oct(_mode(companion)))


@pytest.mark.usefixtures("open_umask")
def test_the_database_and_its_wal_files_are_created_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    """A new database and its -wal and -shm files are 0600 whatever the umask."""
    database = tmp_path / "xpay-auth.db"
    asyncio.run(_migrate_and_write(f"sqlite:///{database}"))
    assert _mode(database) == 0o600


def _production(database: Path) -> object:
    return make_settings(
        f"sqlite:///{database}", env=Environment.PRODUCTION, argon2_profile="owasp"
    )


async def _start(settings: object) -> None:
    async with open_runtime(settings):  # type: ignore[arg-type]
        pass


@pytest.mark.usefixtures("open_umask")
def test_production_refuses_a_database_others_can_read_and_says_the_chmod(
    tmp_path: Path, sqlite_url: str
) -> None:
    """An existing 0644 database or WAL file stops a production start with the fix to run."""
    database = tmp_path / "xpay-auth.db"
    assert sqlite_url.endswith(str(database))
    database.chmod(0o644)
    with pytest.raises(SettingsError) as refused:
        asyncio.run(_start(_production(database)))
    assert f"chmod 600 {database}" in str(refused.value)
    assert "0644" in str(refused.value)
    database.chmod(0o600)
    wal = database.with_name(database.name + "-wal")
    wal.write_bytes(b"")
    wal.chmod(0o640)
    with pytest.raises(SettingsError, match=f"chmod 600 {wal}"):
        asyncio.run(_start(_production(database)))
    wal.chmod(0o600)
    asyncio.run(_start(_production(database)))


@pytest.mark.usefixtures("open_umask")
def test_production_refuses_a_secret_file_others_can_read(tmp_path: Path, sqlite_url: str) -> None:
    """A secret file beside the database that others can read stops a production start."""
    database = tmp_path / "xpay-auth.db"
    database.chmod(0o600)
    secret_file = tmp_path / SECRET_FILE_NAME
    secret_file.write_text(secrets.token_urlsafe(48))
    secret_file.chmod(0o604)
    with pytest.raises(SettingsError, match=f"chmod 600 {secret_file}"):
        asyncio.run(_start(_production(database)))
    assert sqlite_url


@pytest.mark.usefixtures("open_umask")
def test_development_warns_about_exposed_files_and_starts(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside production an exposed database only logs a warning naming the fix."""
    database = tmp_path / "xpay-auth.db"
    database.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="xpay_auth"):
        asyncio.run(_start(make_settings(sqlite_url)))
    warned = [record for record in caplog.records if record.getMessage() == "storage.files_exposed"]
    assert warned
    assert warned[0].__dict__["fix"] == f"chmod 600 {database}"
