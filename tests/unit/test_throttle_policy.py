"""The throttling numbers and the address keys they count under."""

from __future__ import annotations

import pytest

from xpay_auth.errors import TooManyRequests
from xpay_auth.throttling.memory import MemoryStore
from xpay_auth.throttling.policy import BackoffRule, ThrottlePolicy, WindowRule, address_key
from xpay_auth.throttling.throttle import Throttle

pytestmark = pytest.mark.anyio


def test_default_numbers_are_the_documented_ones() -> None:
    """20 failures a minute per address then 5 minutes out; 5 free per pair; 50 per account."""
    policy = ThrottlePolicy()
    assert policy.address == WindowRule(limit=20, window=60.0, lockout=300.0)
    assert policy.pair == BackoffRule(free=5, base=60.0, cap=3600.0, memory=86400.0)
    assert policy.account == BackoffRule(free=50, base=30.0, cap=900.0, memory=3600.0)


def test_pair_back_off_doubles_from_a_minute_to_an_hour() -> None:
    """The 5th failure locks a minute, each next one twice as long, never over an hour."""
    rule = ThrottlePolicy().pair
    locks = [rule.lock_after(n) for n in range(1, 13)]
    assert locks == [0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert rule.lock_after(10**6) == 3600


def _most_failures_within(rule: BackoffRule, seconds: float) -> int:
    """How many failures one client gets in ``seconds`` if it retries the moment a lock ends."""
    now, failures = 0.0, 0
    while True:
        failures += 1
        now += rule.lock_after(failures)
        if now > seconds:
            return failures


def test_one_address_cannot_reach_the_account_backstop_within_its_memory() -> None:
    """An attacker on one address cannot lock the owner out everywhere: within the account
    counter's memory its own back-off keeps it far below the account-wide threshold."""
    policy = ThrottlePolicy()
    assert _most_failures_within(policy.pair, policy.account.memory) < policy.account.free // 2
    # And the account-wide lock, when a distributed attack reaches it, stays short.
    assert policy.account.cap <= 900


def test_address_keys_group_ipv6_by_64_and_unwrap_mapped_ipv4() -> None:
    """IPv6 clients count per /64, IPv4-mapped addresses as IPv4, no address as one key."""
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(None) == address_key("") == "unknown"


async def test_retry_after_is_whole_seconds_rounded_up() -> None:
    """A throttled address is told to wait at least one second, never less than it must."""
    policy = ThrottlePolicy(address=WindowRule(limit=1, window=60, lockout=0.2))
    throttle = Throttle(MemoryStore(), policy)
    await throttle.api_key_failed("192.0.2.1")
    with pytest.raises(TooManyRequests) as refused:
        await throttle.before_api_key("192.0.2.1")
    assert refused.value.retry_after == 1
    assert refused.value.headers == {"Retry-After": "1"}
    await throttle.before_api_key("192.0.2.2")
