"""``/client/password/change``, in-process on every database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import make_settings
from tests.envelopes import Response, audit_events, failure, refused_field, success
from tests.support import PASSWORD, Harness, running_app
from xpay_auth.services import accounts, audit
from xpay_auth.services.audit import AuditQuery
from xpay_auth.throttling.policy import BackoffRule, ThrottlePolicy, WindowRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from xpay_auth.runtime import Runtime
    from xpay_auth.security.passwords import Verdict

USER = "lee@example.com"
NEW = "a fresh and rather long passphrase"


@pytest.fixture
def account(harness: Harness) -> str:
    harness.create_user(USER)
    return USER


def change(harness: Harness, token: str, current: str = PASSWORD, new: str = NEW) -> Response:
    response: Response = harness.post(
        "/client/password/change", {"currentPassword": current, "newPassword": new}, token=token
    )
    return response


def test_change_revokes_other_sessions_but_not_the_current_one(
    harness: Harness, account: str
) -> None:
    """Other dashboard and API-key sessions end, the changing one goes on, the key still works."""
    current = harness.token_for_password(account)
    other = harness.token_for_password(account)
    _, secret = harness.create_key(account)
    key_session = harness.token_for_key(account, secret)
    data = success(change(harness, current))
    assert data == {"changed": True, "otherSessionsRevoked": True}
    assert harness.post("/client/session", token=current).status_code == 200
    failure(harness.post("/client/session", token=other), 401)
    failure(harness.post("/client/session", token=key_session), 401)
    fresh_key_session = harness.token_for_key(account, secret)
    assert harness.post("/client/session", token=fresh_key_session).status_code == 200


def test_the_new_password_works_at_once_and_the_old_one_stops(
    harness: Harness, account: str
) -> None:
    """Right after the change the new password logs in and its token is accepted."""
    success(change(harness, harness.token_for_password(account)))
    token = harness.token_for_password(account, NEW)
    assert harness.post("/client/session", token=token).status_code == 200
    refused = harness.post(
        "/client/authenticate", {"username": account, "secretKey": PASSWORD, "isAPI": False}
    )
    assert failure(refused)["data"] == {"invalid": True}


def test_a_wrong_current_password_changes_nothing(harness: Harness, account: str) -> None:
    """A wrong current password is refused naming the field; sessions and password stay."""
    current = harness.token_for_password(account)
    other = harness.token_for_password(account)
    assert refused_field(
        change(harness, current, current="not the password at all"), "currentPassword"
    )
    assert harness.post("/client/session", token=other).status_code == 200
    harness.token_for_password(account, PASSWORD)
    failed = audit_events(harness, "password.change_failed")
    assert (failed[0].actor, failed[0].outcome) == (account, "refused")
    assert audit_events(harness, "password.changed") == []


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("short", "at least 15"),
        ("lee-lee-lee-lee-lee-lee", "username"),
        (PASSWORD, "differ"),
        ("x" * 257, "at most"),
    ],
)
def test_the_new_password_must_meet_the_policy(
    harness: Harness, account: str, new: str, fragment: str
) -> None:
    """A weak, reused or overlong new password is refused with the reason, naming newPassword."""
    token = harness.token_for_password(account)
    assert fragment in refused_field(change(harness, token, new=new), "newPassword")
    harness.token_for_password(account, PASSWORD)


@pytest.mark.parametrize("missing", ["currentPassword", "newPassword"])
def test_both_fields_are_required(harness: Harness, account: str, missing: str) -> None:
    """Each password field is required and named when absent."""
    body = {"currentPassword": PASSWORD, "newPassword": NEW}
    del body[missing]
    token = harness.token_for_password(account)
    refused_field(harness.post("/client/password/change", body, token=token), missing)


def test_the_change_is_audited(harness: Harness, account: str) -> None:
    """password.changed names the account, the actor and the surviving ticket."""
    login = harness.login(account, PASSWORD, is_api=False)
    success(change(harness, login["access_token"]))
    event = audit_events(harness, "password.changed")[0]
    assert (event.username, event.actor, event.ticket) == (account, account, login["ticket"])


@pytest.fixture
def strict_harness(database_url: str) -> Iterator[Harness]:
    """The app with password login locked after three consecutive failures."""
    with running_app(make_settings(database_url, password_max_failures=3)) as running:
        yield running


def test_wrong_current_passwords_count_towards_the_lock(strict_harness: Harness) -> None:
    """Past the failure limit even the right current password is refused, and so is login."""
    harness = strict_harness
    harness.create_user(USER)
    token = harness.token_for_password(USER)
    for _ in range(3):
        refused_field(change(harness, token, current="wrong but long enough"), "currentPassword")
    refused_field(change(harness, token), "currentPassword")
    body = {"username": USER, "secretKey": PASSWORD, "isAPI": False}
    assert failure(harness.post("/client/authenticate", body))["data"] == {"invalid": True}


def test_a_change_clears_earlier_failures(strict_harness: Harness) -> None:
    """A successful change resets the failure count, so the new password logs in."""
    harness = strict_harness
    harness.create_user(USER)
    token = harness.token_for_password(USER)
    for _ in range(2):
        refused_field(change(harness, token, current="wrong but long enough"), "currentPassword")
    success(change(harness, token))
    for _ in range(2):
        refused_field(change(harness, token, current="still wrong, still long"), "currentPassword")
    assert harness.login(USER, NEW, is_api=False)["user"]["isAPI"] is False


def test_the_current_password_is_compared_after_normalisation(harness: Harness) -> None:
    """A password typed with a compatibility character (NFKC) is recognised as current."""
    typed = "\ufb01ne passphrase typed on a phone"  # starts with the "fi" ligature
    harness.create_user(USER, password=typed)
    token = harness.token_for_password(USER, typed)
    success(change(harness, token, current=typed))


class _RealHashChecks:
    """Counts verifications against one stored hash, passing every call through."""

    def __init__(self, harness: Harness, account_id: str) -> None:
        self.calls = 0
        runtime = harness.runtime
        account = harness.run(lambda rt: rt.database.accounts.by_id(account_id))
        assert account is not None
        assert account.password_hash is not None
        real_hash = account.password_hash
        original = runtime.passwords.verify

        def counting(stored: str | None, password: str) -> Verdict:
            if stored == real_hash:
                self.calls += 1
            return original(stored, password)

        runtime.passwords.verify = counting  # type: ignore[method-assign,assignment]


def _parallel_changes(harness: Harness, token: str, count: int) -> list[int | str]:
    """``count`` wrong current passwords at once over HTTP on one session: each outcome."""
    app = harness.client.app

    async def burst(_: Runtime) -> list[int | str]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:

            async def one(number: int) -> int | str:
                response = await client.post(
                    "/client/password/change",
                    json={"currentPassword": f"wrong guess {number:04d}", "newPassword": NEW},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if response.status_code != 200:
                    return response.status_code
                error = response.json()["error"]
                return str(error["data"]["field"])

            return list(await asyncio.gather(*(one(n) for n in range(count))))

    return harness.run(burst)


def test_parallel_wrong_current_passwords_are_throttled_like_logins(
    harness: Harness, account: str
) -> None:
    """200 parallel wrong current passwords on one session: five reach the real hash (the
    per-address back-off), the rest are refused alike or get 429 at the address limit."""
    account_id = harness.run(lambda rt: accounts.require_account(rt.database.accounts, account)).id
    token = harness.token_for_password(account)
    real = _RealHashChecks(harness, account_id)
    outcomes = _parallel_changes(harness, token, 200)
    assert real.calls == 5
    assert set(outcomes) == {"currentPassword", 429}
    assert outcomes.count("currentPassword") == ThrottlePolicy().address.limit
    failed, total = harness.run(
        lambda rt: audit.search(
            rt.database.audit, AuditQuery(event="password.change_failed"), limit=500
        )
    )
    assert total == 200
    assert sorted({event.outcome for event in failed}) == ["refused", "throttled"]


def test_parallel_wrong_current_passwords_reach_the_real_hash_at_most_the_cap(
    harness: Harness, account: str
) -> None:
    """With the short-term throttle out of the way, 200 parallel wrong current passwords on
    one session reach the real hash exactly as often as the consecutive-failure cap allows."""
    cap = harness.runtime.settings.password_max_failures
    account_id = harness.run(lambda rt: accounts.require_account(rt.database.accounts, account)).id
    token = harness.token_for_password(account)
    unlimited = BackoffRule(free=10_000, base=1.0, cap=1.0, memory=60.0)
    harness.runtime.throttle.policy = ThrottlePolicy(
        address=WindowRule(limit=10_000), pair=unlimited, account=unlimited
    )
    real = _RealHashChecks(harness, account_id)
    outcomes = _parallel_changes(harness, token, 200)
    assert outcomes == ["currentPassword"] * 200
    assert real.calls == cap
    stored = harness.run(lambda rt: rt.database.accounts.by_id(account_id))
    assert stored is not None
    assert stored.failed_password_attempts == cap
    assert len(audit_events(harness, "account.password_disabled")) == 1
    refused_field(change(harness, token), "currentPassword")
