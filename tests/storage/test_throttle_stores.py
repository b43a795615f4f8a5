"""One suite for every throttle counter store: in memory and in Redis, the same behaviour."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
import pytest

from tests.redis_support import RedisTarget, redis_target
from xpay_auth.errors import StorageUnavailable
from xpay_auth.throttling.memory import MemoryStore
from xpay_auth.throttling.policy import BackoffRule, ThrottlePolicy, WindowRule
from xpay_auth.throttling.redis_store import RedisStore
from xpay_auth.throttling.store import CounterStore, Outcome

__all__ = ["redis_target"]

pytestmark = pytest.mark.anyio

# Small numbers and short times, so that every rule can be crossed and outwaited quickly.
POLICY = ThrottlePolicy(
    address=WindowRule(limit=4, window=0.6, lockout=1.0),
    pair=BackoffRule(free=2, base=0.4, cap=0.8, memory=30.0),
    account=BackoffRule(free=5, base=0.4, cap=0.8, memory=30.0),
)
# For the back-off alone: an address limit the attempts never reach.
LENIENT_ADDRESS = ThrottlePolicy(
    address=WindowRule(limit=1000, window=60, lockout=60), pair=POLICY.pair, account=POLICY.account
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class StoreFactory:
    """Makes stores of one kind that share their counters, and lets their time pass.

    The memory store reads an injected clock, which ``wait`` moves at once; Redis keeps time
    itself (``TIME`` and key expiry), so for it ``wait`` really sleeps.
    """

    make: Callable[[], CounterStore]
    clock: FakeClock | None = None

    def __call__(self) -> CounterStore:
        return self.make()

    async def wait(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.now += seconds
        else:
            await anyio.sleep(seconds)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def new_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Makes stores of one kind; every store it makes shares the same counters."""
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryStore(clock=clock)
        yield StoreFactory(lambda: memory, clock)
        return
    target: RedisTarget = request.getfixturevalue("redis_target")
    yield StoreFactory(lambda: RedisStore.from_url(target.url, target.prefix))


async def _fail_address(store: CounterStore, address: str, times: int) -> float:
    left = 0.0
    for _ in range(times):
        left = await store.record_address_failure(address, POLICY)
    return left


async def test_address_is_blocked_when_failures_reach_the_limit(new_store: StoreFactory) -> None:
    """Failures below the limit leave the address free; the limit-th blocks it for the lockout."""
    store = new_store()
    assert await _fail_address(store, "192.0.2.1", 3) == 0
    assert await store.address_block("192.0.2.1", POLICY) == 0
    left = await _fail_address(store, "192.0.2.1", 1)
    assert 0.8 < left <= 1.0
    assert 0.8 < await store.address_block("192.0.2.1", POLICY) <= 1.0
    assert await store.address_block("192.0.2.2", POLICY) == 0
    await store.close()


async def test_address_block_ends_after_the_lockout(new_store: StoreFactory) -> None:
    """Once the lockout has passed the address may try again, from a fresh count."""
    store = new_store()
    await _fail_address(store, "192.0.2.1", 4)
    await new_store.wait(1.1)
    assert await store.address_block("192.0.2.1", POLICY) == 0
    assert await _fail_address(store, "192.0.2.1", 3) == 0
    await store.close()


async def test_failures_older_than_the_window_do_not_add_up(new_store: StoreFactory) -> None:
    """The window restarts: failures spread wider than it never reach the limit."""
    store = new_store()
    await _fail_address(store, "192.0.2.1", 3)
    await new_store.wait(0.7)
    assert await _fail_address(store, "192.0.2.1", 3) == 0
    await store.close()


async def test_password_pair_locks_after_its_free_attempts(new_store: StoreFactory) -> None:
    """An (account, address) pair gets its free attempts, then a lock of the base time."""
    store = new_store()
    first = await store.reserve_password("192.0.2.1", "ann", POLICY)
    second = await store.reserve_password("192.0.2.1", "ann", POLICY)
    third = await store.reserve_password("192.0.2.1", "ann", POLICY)
    assert [first.outcome, second.outcome] == [Outcome.ALLOWED, Outcome.ALLOWED]
    assert third.outcome is Outcome.LOCKED
    assert 0.2 < third.retry_after <= 0.4
    # Another address is not locked out by this one's failures.
    assert (await store.reserve_password("192.0.2.9", "ann", POLICY)).outcome is Outcome.ALLOWED
    await store.close()


async def test_each_further_failure_doubles_the_lock_up_to_the_cap(new_store: StoreFactory) -> None:
    """Failing again after a lock ends locks for twice as long, never past the cap."""
    store = new_store()
    policy = LENIENT_ADDRESS
    for _ in range(2):
        await store.reserve_password("192.0.2.1", "ann", policy)
    await new_store.wait(0.45)
    assert (await store.reserve_password("192.0.2.1", "ann", policy)).outcome is Outcome.ALLOWED
    doubled = await store.reserve_password("192.0.2.1", "ann", policy)
    assert doubled.outcome is Outcome.LOCKED
    assert 0.6 < doubled.retry_after <= 0.8
    await new_store.wait(0.85)
    assert (await store.reserve_password("192.0.2.1", "ann", policy)).outcome is Outcome.ALLOWED
    capped = await store.reserve_password("192.0.2.1", "ann", policy)
    assert 0.6 < capped.retry_after <= 0.8
    await store.close()


async def test_account_backstop_locks_every_address(new_store: StoreFactory) -> None:
    """Failures from many addresses lock the account everywhere once the backstop is reached."""
    store = new_store()
    outcomes = [
        (await store.reserve_password(f"198.51.100.{n}", "ann", POLICY)).outcome for n in range(5)
    ]
    assert outcomes == [Outcome.ALLOWED] * 5
    fresh = await store.reserve_password("203.0.113.50", "ann", POLICY)
    assert fresh.outcome is Outcome.LOCKED
    assert (await store.reserve_password("203.0.113.50", "bob", POLICY)).outcome is Outcome.ALLOWED
    await store.close()


async def test_blocked_address_counts_nothing(new_store: StoreFactory) -> None:
    """A reservation from a blocked address is refused and adds to no account's counters."""
    store = new_store()
    await _fail_address(store, "192.0.2.1", 4)
    blocked = await store.reserve_password("192.0.2.1", "ann", POLICY)
    assert blocked.outcome is Outcome.ADDRESS_BLOCKED
    assert blocked.retry_after > 0.5
    for _ in range(2):
        assert (await store.reserve_password("192.0.2.2", "ann", POLICY)).outcome is Outcome.ALLOWED
    await store.close()


async def test_locked_attempts_still_count_against_the_address(new_store: StoreFactory) -> None:
    """Attempts refused by an account lock use up the address's allowance like failures."""
    store = new_store()
    outcomes = [
        (await store.reserve_password("192.0.2.1", "ann", POLICY)).outcome for _ in range(5)
    ]
    assert outcomes == [Outcome.ALLOWED] * 2 + [Outcome.LOCKED] * 2 + [Outcome.ADDRESS_BLOCKED]
    await store.close()


async def test_success_refunds_and_clears_the_account(new_store: StoreFactory) -> None:
    """A success gives back its reservation and clears the pair and account-wide counters."""
    store = new_store()
    await store.reserve_password("192.0.2.1", "ann", POLICY)
    await store.reserve_password("192.0.2.1", "ann", POLICY)
    await store.password_succeeded("192.0.2.1", "ann")
    assert (await store.reserve_password("192.0.2.1", "ann", POLICY)).outcome is Outcome.ALLOWED
    await store.password_succeeded("192.0.2.1", "ann")
    # Two reservations were refunded, so two more failures leave the address under its limit.
    assert await _fail_address(store, "192.0.2.1", 2) == 0
    await store.close()


async def test_unlock_forgets_every_pair_and_the_account_lock(new_store: StoreFactory) -> None:
    """An operator's unlock clears the account's counters on every address at once."""
    store = new_store()
    for address in ("192.0.2.1", "192.0.2.2"):
        for _ in range(2):
            await store.reserve_password(address, "ann", POLICY)
        assert (await store.reserve_password(address, "ann", POLICY)).outcome is Outcome.LOCKED
    await store.unlock("ann")
    for address in ("192.0.2.1", "192.0.2.2"):
        assert (await store.reserve_password(address, "ann", POLICY)).outcome is Outcome.ALLOWED
    await store.close()


async def test_parallel_reservations_get_no_more_than_the_limits(new_store: StoreFactory) -> None:
    """A burst of parallel attempts is allowed exactly as often as the limits say."""
    store = new_store()
    same_pair = await asyncio.gather(
        *(store.reserve_password(f"192.0.2.{n // 3}", "ann", POLICY) for n in range(3))
    )
    assert sum(r.outcome is Outcome.ALLOWED for r in same_pair) == 2
    spray = await asyncio.gather(
        *(store.reserve_password("192.0.2.77", f"user{n}", POLICY) for n in range(30))
    )
    outcomes = [r.outcome for r in spray]
    assert outcomes.count(Outcome.ALLOWED) == POLICY.address.limit
    assert outcomes.count(Outcome.ADDRESS_BLOCKED) == 30 - POLICY.address.limit
    failures = await asyncio.gather(
        *(store.record_address_failure("192.0.2.88", POLICY) for _ in range(30))
    )
    assert sum(left == 0 for left in failures) == POLICY.address.limit - 1
    await store.close()


async def test_counters_are_shared_and_outlive_the_store(new_store: StoreFactory) -> None:
    """A store opened after another closed sees the same counters (Redis: every node)."""
    first = new_store()
    await _fail_address(first, "192.0.2.1", 4)
    for _ in range(2):
        await first.reserve_password("192.0.2.2", "ann", POLICY)
    await first.close()
    second = new_store()
    assert await second.address_block("192.0.2.1", POLICY) > 0
    assert (await second.reserve_password("192.0.2.2", "ann", POLICY)).outcome is Outcome.LOCKED
    await second.close()


async def test_an_unreachable_redis_is_a_storage_error() -> None:
    """A Redis that does not answer becomes StorageUnavailable (503), not a hung request."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", "nowhere:")
    with pytest.raises(StorageUnavailable):
        await store.reserve_password("192.0.2.1", "ann", POLICY)
    await store.close()
