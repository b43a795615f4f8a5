"""The guard's side of the incremental revocation feed: cursor, snapshot, reset, its own login."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.unit.guard_fakes import AUTH_URL, FakeAuth, FakeClock, bearer, make_guard
from xpay_auth.errors import Unauthorized
from xpay_auth.guard import Guard, GuardConfig, GuardUnavailable
from xpay_auth.logs import JsonFormatter
from xpay_auth.security.revocation import Revocation, RevocationKind

pytestmark = pytest.mark.anyio


class Recorder(FakeAuth):
    """The fake feed, remembering the query of every feed request."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[dict[str, str]] = []
        self.reset_next = False
        self.fail_request: int | None = None  # the feed request (from 1) that fails

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/revocations":
            self.queries.append(dict(request.url.params))
            if len(self.queries) == self.fail_request:
                raise httpx.ConnectError("dropped", request=request)
            if self.reset_next:
                # As the real feed answers a cursor of another database: the snapshot again.
                self.reset_next = False
                request = httpx.Request(
                    "GET", AUTH_URL + "/auth/revocations", headers=request.headers
                )
        return super().handler(request)


@pytest.fixture
def auth() -> Recorder:
    return Recorder()


@pytest.fixture
async def guard(auth: Recorder) -> AsyncIterator[Guard]:
    guard = make_guard(auth, FakeClock())
    yield guard
    await guard.stop()


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """The captured records as the service writes them: JSON lines with every field."""
    return "\n".join(JsonFormatter().format(record) for record in caplog.records)


def tickets(count: int) -> list[Revocation]:
    return [Revocation(RevocationKind.TICKET, secrets.token_hex(16)) for _ in range(count)]


async def test_the_guard_reads_a_snapshot_once_then_only_the_changes_after_its_cursor(
    auth: Recorder, guard: Guard
) -> None:
    """Start-up reads every entry; later polls send the cursor and get only what is new."""
    auth.revocations.extend(tickets(2500))
    await guard.start(background=False)
    assert guard.ready
    assert guard.feed.entries == 2500
    assert [query.get("since") for query in auth.queries] == [
        None,
        *(f"{'f' * 32}.{n}" for n in (1000, 2000)),
    ]
    auth.queries.clear()

    assert await guard.poll_revocations() is True
    assert auth.queries == [{"limit": "300", "since": f"{'f' * 32}.2500"}]
    fresh = tickets(2)
    auth.revocations.extend(fresh)
    assert await guard.poll_revocations() is True
    assert guard.feed.entries == 2502
    assert guard.feed.snapshots == 1
    token = bearer(auth.token(ticket=fresh[1].subject))
    with pytest.raises(Unauthorized, match="revoked"):
        await guard.authenticate(token)


async def test_a_snapshot_is_used_only_once_complete(auth: Recorder, guard: Guard) -> None:
    """A snapshot that fails half way leaves the guard without a list, never with half of one."""
    auth.revocations.extend(tickets(5))
    guard.feed._snapshot_page_size = 2
    auth.fail_request = 3
    await guard.start(background=False)
    assert guard.feed.entries == 0
    assert guard.ready is False
    with pytest.raises(GuardUnavailable):
        await guard.authenticate(bearer(auth.token()))
    assert await guard.poll_revocations() is True
    assert guard.feed.entries == 5


async def test_a_reset_answer_starts_the_list_afresh(auth: Recorder, guard: Guard) -> None:
    """When the feed answers reset, entries the new snapshot lacks are dropped."""
    gone, kept = tickets(1), tickets(1)
    auth.revocations.extend(gone + kept)
    await guard.start(background=False)
    assert guard.feed.entries == 2
    auth.revocations[:] = kept
    auth.reset_next = True
    assert await guard.poll_revocations() is True
    assert guard.feed.entries == 1
    assert guard.feed.snapshots == 2
    await guard.authenticate(bearer(auth.token(ticket=gone[0].subject)))


async def test_the_guard_logs_in_with_its_own_key_and_again_after_a_401(
    auth: Recorder, guard: Guard
) -> None:
    """The feed is read with the guard's own token; a refused token is replaced once."""
    await guard.start(background=False)
    assert auth.logins == 1
    assert await guard.poll_revocations() is True
    assert auth.logins == 1
    auth.tokens.clear()  # its session revoked, say
    assert await guard.poll_revocations() is True
    assert auth.logins == 2


async def test_a_guard_without_credentials_fails_closed_and_says_why(
    auth: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Without username and secret_key the feed answers 401 and the guard stays unready."""
    guard = Guard(GuardConfig(auth_url=AUTH_URL), transport=auth.transport)
    await guard.start(background=False)
    try:
        assert guard.ready is False
        assert "set the guard's username and secret_key" in logged(caplog)
    finally:
        await guard.stop()


async def test_a_guard_with_a_wrong_key_fails_closed_with_the_servers_tag(
    auth: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused login is a failed poll, logged with the server's message, never the secret."""
    guard = make_guard(auth, secret_key="xpsk_wrong-secret")
    await guard.start(background=False)
    try:
        assert guard.ready is False
        assert "invalid credentials" in logged(caplog)
        assert "xpsk_wrong-secret" not in logged(caplog)
    finally:
        await guard.stop()
