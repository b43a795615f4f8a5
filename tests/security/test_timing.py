"""No enumeration by timing: every refusal of a known account costs what an unknown one does.

Each round runs one attempt of every kind in a shuffled order, so that load from the rest
of the machine falls on all kinds alike; a kind is compared with the unknown-user attempt of
the same round, and the median of those paired differences must stay within a tolerance
relative to the call's own time. The password path runs the production argon2 profile
(OWASP: m=19 MiB, t=2, p=1), where a missing dummy verification would show as a gap of
nearly the whole call.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from tests.conftest import make_settings
from tests.support import PASSWORD, Harness, running_app
from xpay_auth.errors import InvalidCredentials
from xpay_auth.logs import now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.security import api_keys
from xpay_auth.services import accounts
from xpay_auth.services.authenticate import Credentials, authenticate
from xpay_auth.settings import Argon2Profile
from xpay_auth.storage.models import ApiKeyRow
from xpay_auth.throttling.memory import MemoryStore
from xpay_auth.throttling.policy import BackoffRule, ThrottlePolicy, WindowRule
from xpay_auth.throttling.throttle import Throttle

if TYPE_CHECKING:
    from xpay_auth.runtime import Runtime

pytestmark = pytest.mark.slow

# Throttling would turn the attempts into locks and 429s; this test measures the checks.
UNLIMITED = ThrottlePolicy(
    address=WindowRule(limit=10**9, window=60, lockout=60),
    pair=BackoffRule(free=10**9, base=1, cap=1, memory=60),
    account=BackoffRule(free=10**9, base=1, cap=1, memory=60),
)
# Password rounds cost ~4 argon2 verifications each; API-key rounds a millisecond or so.
PASSWORD_ROUNDS = 40
API_ROUNDS = 300
# A kind may differ from the unknown user by at most this share of the call's median time.
PASSWORD_TOLERANCE = 0.2
API_TOLERANCE = 0.3

Attempt = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Gap:
    kind: str
    median_ms: float
    paired_gap_ms: float

    @property
    def relative(self) -> float:
        return abs(self.paired_gap_ms) / self.median_ms


async def _refused(runtime: Runtime, username: str, secret: str, *, is_api: bool) -> None:
    try:
        await authenticate(
            runtime.services.login,
            Credentials(username, secret, is_api=is_api),
            RequestContext("timing", "192.0.2.1"),
        )
    except InvalidCredentials:
        return
    pytest.fail(f"{username} was not refused")


async def _measure(
    kinds: dict[str, Attempt], rounds: int, between: Callable[[], Awaitable[None]]
) -> list[Gap]:
    order = list(kinds)
    shuffle = random.Random(20240607).shuffle  # noqa: S311  an order, not a secret
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(3):  # warm-up: connections, caches, the thread pool
        for attempt in kinds.values():
            await attempt()
    for _ in range(rounds):
        shuffle(order)
        for kind in order:
            started = time.perf_counter()
            await kinds[kind]()
            times[kind].append((time.perf_counter() - started) * 1000)
        await between()
    base = times["unknown"]
    return [
        Gap(
            kind,
            statistics.median(samples),
            statistics.median(
                sample - paired for sample, paired in zip(samples, base, strict=True)
            ),
        )
        for kind, samples in times.items()
        if kind != "unknown"
    ]


def _assert_indistinguishable(gaps: list[Gap], tolerance: float) -> None:
    report = ", ".join(
        f"{gap.kind}: median {gap.median_ms:.2f} ms, "
        f"gap {gap.paired_gap_ms:+.3f} ms ({gap.relative:.1%})"
        for gap in gaps
    )
    print(report)  # noqa: T201  the numbers are the point of this test when it is run with -s
    assert all(gap.relative <= tolerance for gap in gaps), report


@pytest.fixture
def timed(sqlite_url: str) -> Iterator[Harness]:
    settings = make_settings(sqlite_url, argon2_profile=Argon2Profile.OWASP)
    with running_app(settings) as harness:
        harness.replace_parts(throttle=Throttle(MemoryStore(), UNLIMITED))
        yield harness


def test_password_refusals_take_the_same_time_for_known_and_unknown_users(timed: Harness) -> None:
    """Wrong password, locked and disabled accounts cost what an unknown user costs."""
    wrong_id = timed.create_user("wrong@example.com")
    locked_id = timed.create_user("locked@example.com")
    timed.create_user("disabled@example.com")

    async def prepare(runtime: Runtime) -> None:
        limit = runtime.settings.password_max_failures
        await runtime.database.accounts.update(locked_id, now_ms(), failed_password_attempts=limit)
        disabled = await accounts.require_account(runtime.database.accounts, "disabled@example.com")
        await accounts.set_disabled(runtime.services.accounts, disabled, disabled=True)

    timed.run(prepare)

    async def measure(runtime: Runtime) -> list[Gap]:
        async def reset() -> None:
            await runtime.database.accounts.update(wrong_id, now_ms(), failed_password_attempts=0)

        guess = "not the password at all 0"
        kinds: dict[str, Attempt] = {
            "unknown": lambda: _refused(runtime, "ghost@example.com", guess, is_api=False),
            "wrong": lambda: _refused(runtime, "wrong@example.com", guess, is_api=False),
            "locked": lambda: _refused(runtime, "locked@example.com", PASSWORD, is_api=False),
            "disabled": lambda: _refused(runtime, "disabled@example.com", PASSWORD, is_api=False),
        }
        return await _measure(kinds, PASSWORD_ROUNDS, reset)

    _assert_indistinguishable(timed.run(measure), PASSWORD_TOLERANCE)


def test_api_key_refusals_take_the_same_time_for_known_and_unknown_keys(timed: Harness) -> None:
    """Wrong secret, wrong user, revoked and expired keys cost what an unknown key id costs."""
    timed.create_user("keys@example.com")
    key_id, secret = timed.create_key("keys@example.com")
    revoked_id, revoked = timed.create_key("keys@example.com")
    expired_id, expired = timed.create_key("keys@example.com")
    wrong_secret = api_keys.generate(key_id).secret

    async def prepare(runtime: Runtime) -> None:
        await runtime.database.api_keys.revoke(revoked_id, now_ms())
        async with runtime.database.engine.begin() as conn:
            await conn.execute(
                update(ApiKeyRow).where(ApiKeyRow.id == expired_id).values(expires_at_ms=1)
            )

    timed.run(prepare)

    async def measure(runtime: Runtime) -> list[Gap]:
        async def nothing() -> None:
            return None

        # Fresh, well-formed keys whose ids exist nowhere, made before the clock runs.
        unknown_keys = [api_keys.generate().secret for _ in range(API_ROUNDS + 3)]

        def unknown() -> Awaitable[None]:
            return _refused(runtime, "keys@example.com", unknown_keys.pop(), is_api=True)

        kinds: dict[str, Attempt] = {
            "unknown": unknown,
            "wrong": lambda: _refused(runtime, "keys@example.com", wrong_secret, is_api=True),
            "other user": lambda: _refused(runtime, "ghost@example.com", secret, is_api=True),
            "revoked": lambda: _refused(runtime, "keys@example.com", revoked, is_api=True),
            "expired": lambda: _refused(runtime, "keys@example.com", expired, is_api=True),
        }
        return await _measure(kinds, API_ROUNDS, nothing)

    _assert_indistinguishable(timed.run(measure), API_TOLERANCE)
