"""A row the database refuses cannot hold the background writer back."""

from __future__ import annotations

from tests.support import Harness, session_record
from xpay_auth.domain import Session
from xpay_auth.logs import now_ms
from xpay_auth.runtime import Runtime


def test_a_refused_row_is_dropped_and_the_rest_are_written(harness: Harness) -> None:
    """A duplicate ticket in a batch is dropped alone; its neighbours and later batches land."""
    account_id = harness.create_user("writer@example.com")
    now = now_ms()

    def session(ticket: str) -> Session:
        return session_record(ticket, account_id, created_at=now, expires_at=now + 3600_000)

    async def write(runtime: Runtime) -> list[str]:
        writer = runtime.writer
        writer.add_session(session("1" * 32))
        writer.add_session(session("1" * 32))  # the database refuses this one for ever
        writer.add_session(session("2" * 32))
        await writer.flush()
        writer.add_session(session("3" * 32))
        await writer.flush()
        assert writer.pending == 0
        live = await runtime.database.sessions.live_for_account(account_id, now)
        return sorted(item.ticket for item in live)

    assert harness.run(write) == ["1" * 32, "2" * 32, "3" * 32]
