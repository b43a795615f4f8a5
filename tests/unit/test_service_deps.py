"""Each service runs given exactly what its signature names: no runtime, no app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from tests.conftest import make_settings
from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.components.committer import Committer
from xpay_auth.errors import Unauthorized
from xpay_auth.logs import now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID, AccessClaims
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.services import accounts, audit, callers, lockout, revocation_feed, revocations
from xpay_auth.services.accounts import AccountDeps
from xpay_auth.services.audit import AuditQuery
from xpay_auth.services.lockout import LockoutDeps
from xpay_auth.services.revocations import RevocationDeps
from xpay_auth.settings import Argon2Profile
from xpay_auth.storage.batch import create_batch_store
from xpay_auth.storage.database import Database
from xpay_auth.storage.engine import create_engine
from xpay_auth.throttling.throttle import build_throttle

pytestmark = pytest.mark.anyio
CTX = RequestContext("0b8a2f7e-5c1d-4e9a-8f3b-2d6c7a1e9b40", client_ip="203.0.113.7")


@dataclass(frozen=True, slots=True)
class Parts:
    database: Database
    audit: AuditTrail


@asynccontextmanager
async def parts(database_url: str) -> AsyncIterator[Parts]:
    """The repositories and the audit trail of a test database, as separate parts."""
    database = Database(create_engine(database_url), database_url)
    committer = Committer(create_batch_store(database_url))
    try:
        yield Parts(database, AuditTrail(committer))
    finally:
        await committer.close()
        await database.dispose()


def account_deps(built: Parts) -> AccountDeps:
    database = built.database
    revocation = RevocationDeps(
        accounts=database.accounts,
        sessions=database.sessions,
        revocations=database.revocations,
        token_ttl=3600,
    )
    return AccountDeps(
        accounts=database.accounts,
        passwords=PasswordHashing(Argon2Profile.TESTING),
        audit=built.audit,
        revocation=revocation,
    )


async def test_audit_search_reads_the_audit_repository_alone(database_url: str) -> None:
    """An event the trail committed is found through the audit repository, by username."""
    async with parts(database_url) as built:
        await built.audit.record("key.created", "ok", CTX, username="ops@example.com")
        entries, total = await audit.search(
            built.database.audit, AuditQuery(username=" OPS@example.com ")
        )
    assert total == 1
    assert (entries[0].event, entries[0].client_ip) == ("key.created", "203.0.113.7")


async def test_unlock_password_needs_accounts_throttle_and_trail(database_url: str) -> None:
    """Unlocking clears the account's failure count and records how many there were."""
    async with parts(database_url) as built:
        account = await accounts.create_account(account_deps(built), "locked@example.com")
        for _ in range(3):
            await built.database.accounts.add_failed_password_attempt(account.id)
        counted = await accounts.require_account(built.database.accounts, "locked@example.com")
        throttle = build_throttle(make_settings(database_url))
        try:
            deps = LockoutDeps(
                accounts=built.database.accounts, throttle=throttle, audit=built.audit
            )
            await lockout.unlock_password(deps, counted, CTX)
        finally:
            await throttle.close()
        unlocked = await accounts.require_account(built.database.accounts, "locked@example.com")
        entries, _ = await audit.search(built.database.audit, AuditQuery(event="account.unlocked"))
    assert counted.failed_password_attempts == 3
    assert unlocked.failed_password_attempts == 0
    assert [entry.detail for entry in entries] == [{"failedPasswordAttempts": 3}]


async def test_the_feed_reads_the_revocation_repository_alone(database_url: str) -> None:
    """A ticket revoked through the repository is in the feed's snapshot, then not repeated."""
    ticket = "c" * 32
    async with parts(database_url) as built:
        repository = built.database.revocations
        assert await revocations.revoke_ticket(repository, ticket)
        first = await revocation_feed.feed_page(repository, None, 10)
        cursor = revocation_feed.Cursor.parse(first["cursor"])
        second = await revocation_feed.feed_page(repository, cursor, 10)
    assert [entry["subject"] for entry in first["revocations"]] == [ticket]
    assert first["reset"] is True
    assert (second["revocations"], second["reset"]) == ([], False)


async def test_a_disabled_callers_token_ends_with_the_accounts_repository(
    database_url: str,
) -> None:
    """A verified token whose account was disabled since is refused (401)."""
    async with parts(database_url) as built:
        deps = account_deps(built)
        account = await accounts.create_account(deps, "gone@example.com")
        now = now_ms() // 1000
        claims = AccessClaims(
            subject=account.id,
            username=account.username,
            scopes=account.scopes,
            ticket="d" * 32,
            client_id=DASHBOARD_CLIENT_ID,
            token_id="jti",
            issued_at=now,
            expires_at=now + 60,
        )
        assert await callers.caller_account(built.database.accounts, claims) == account
        await accounts.set_disabled(deps, account, disabled=True, ctx=CTX)
        with pytest.raises(Unauthorized):
            await callers.caller_account(built.database.accounts, claims)
