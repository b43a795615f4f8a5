"""Purging expired rows."""

from __future__ import annotations

from tests.support import Harness, session_record
from xpay_auth.logs import now_ms
from xpay_auth.runtime import Runtime
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.services.housekeeping import purge_expired


def test_purge_deletes_only_what_has_expired(harness: Harness) -> None:
    """Expired sessions and spent revocations go; live ones stay."""
    account_id = harness.create_user("house@example.com")
    now = now_ms()

    async def seed(runtime: Runtime) -> None:
        sessions = [
            session_record(
                "a" * 32, account_id, created_at=now - 7200_000, expires_at=now - 3600_000
            ),
            session_record("b" * 32, account_id, created_at=now, expires_at=now + 3600_000),
        ]
        await runtime.database.sessions.insert_many(sessions)
        revocations = runtime.database.revocations
        # Recorded a minute ago: one has expired since, the other is still in force.
        await revocations.record(
            RevocationEntry(Revocation(RevocationKind.TICKET, "a" * 32), now - 1),
            now_ms=now - 60_000,
        )
        await revocations.record(
            RevocationEntry(Revocation(RevocationKind.TICKET, "b" * 32), now + 60_000),
            now_ms=now - 60_000,
        )

    harness.run(seed)
    counts = harness.run(lambda runtime: purge_expired(runtime.services.housekeeping))
    assert counts["sessions"] == 1
    assert counts["revocations"] == 1

    async def remaining(runtime: Runtime) -> tuple[list[str], list[str]]:
        live = await runtime.database.sessions.live_for_account(account_id, 0)
        active = await runtime.database.revocations.active(0)
        return [s.ticket for s in live], [r.revocation.subject for r in active]

    tickets, revoked = harness.run(remaining)
    assert tickets == ["b" * 32]
    assert revoked == ["b" * 32]
