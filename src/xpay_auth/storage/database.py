"""The database as a process holds it: the engine, and a repository for each aggregate.

The hot-read path (``storage.reader``) is built here and handed only to the repositories
whose reads need it; nothing outside storage sees it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.storage.api_keys import ApiKeyRepository
from xpay_auth.storage.audit import AuditRepository
from xpay_auth.storage.reader import Reader, create_reader
from xpay_auth.storage.revocations import RevocationRepository
from xpay_auth.storage.sessions import SessionRepository
from xpay_auth.storage.signing_keys import SigningKeyRepository


class Database:
    """Built once per process, on ``url``, the URL ``engine`` was created with."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self._reader: Reader = create_reader(url)
        self.accounts = AccountRepository(engine)
        self.api_keys = ApiKeyRepository(engine, self._reader)
        self.sessions = SessionRepository(engine)
        self.revocations = RevocationRepository(engine, self._reader)
        self.signing_keys = SigningKeyRepository(engine)
        self.audit = AuditRepository(engine)

    async def ping(self) -> None:
        """Raise unless the database can be reached and read now."""
        await self._reader.ping()

    async def dispose(self) -> None:
        await self._reader.close()
        await self.engine.dispose()
