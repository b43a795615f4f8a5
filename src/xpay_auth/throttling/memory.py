"""Counters in this process's memory: the default, for a single node.

Each operation runs without an ``await`` inside, so on one event loop it is atomic. The
counters vanish on restart and are not shared between processes or nodes: run several
workers or nodes with Redis (``XPAY_AUTH_REDIS_URL``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from xpay_auth.throttling.policy import BackoffRule, ThrottlePolicy
from xpay_auth.throttling.store import Outcome, Reservation

# Bounds memory under a flood of made-up usernames or addresses: expired entries are swept
# every so many writes, and past the ceiling the least recently written are dropped.
SWEEP_EVERY = 4096
MAX_ENTRIES = 200_000
MAX_PAIRS_PER_ACCOUNT = 64


@dataclass(slots=True)
class _Window:
    count: int
    expires: float


@dataclass(slots=True)
class _Backoff:
    count: int = 0
    last: float = 0.0
    lock_until: float = 0.0

    def current(self, now: float, rule: BackoffRule) -> _Backoff:
        """This counter, or a fresh one when its failures are old enough to forget."""
        if self.count and now - self.last >= rule.memory:
            return _Backoff()
        return self

    def fail(self, now: float, rule: BackoffRule) -> None:
        self.count += 1
        self.last = now
        lock = rule.lock_after(self.count)
        if lock:
            self.lock_until = now + lock


@dataclass(slots=True)
class _Account:
    whole: _Backoff = field(default_factory=_Backoff)
    pairs: dict[str, _Backoff] = field(default_factory=dict)
    expires: float = 0.0


class MemoryStore:
    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._addresses: dict[str, _Window] = {}
        self._accounts: dict[str, _Account] = {}
        self._writes = 0

    def _window(self, address: str, now: float) -> _Window | None:
        window = self._addresses.get(address)
        if window is not None and window.expires <= now:
            del self._addresses[address]
            return None
        return window

    def _count_address(self, address: str, now: float, policy: ThrottlePolicy) -> float:
        rule = policy.address
        window = self._window(address, now) or _Window(0, now + rule.window)
        window.count += 1
        if window.count == rule.limit:
            window.expires = now + rule.lockout
        self._addresses.pop(address, None)
        self._addresses[address] = window
        self._wrote(now)
        return window.expires - now if window.count >= rule.limit else 0.0

    async def address_block(self, address: str, policy: ThrottlePolicy) -> float:
        now = self._clock()
        window = self._window(address, now)
        if window is None or window.count < policy.address.limit:
            return 0.0
        return window.expires - now

    async def record_address_failure(self, address: str, policy: ThrottlePolicy) -> float:
        return self._count_address(address, self._clock(), policy)

    async def reserve_password(
        self, address: str, username: str, policy: ThrottlePolicy
    ) -> Reservation:
        now = self._clock()
        window = self._window(address, now)
        if window is not None and window.count >= policy.address.limit:
            return Reservation(Outcome.ADDRESS_BLOCKED, window.expires - now)
        self._count_address(address, now, policy)
        account = self._accounts.pop(username, None) or _Account()
        self._accounts[username] = account
        account.whole = account.whole.current(now, policy.account)
        if len(account.pairs) > MAX_PAIRS_PER_ACCOUNT:
            account.pairs = {
                key: value
                for key, value in account.pairs.items()
                if now - value.last < policy.pair.memory
            }
        pair = account.pairs.get(address, _Backoff()).current(now, policy.pair)
        account.pairs[address] = pair
        locked_until = max(pair.lock_until, account.whole.lock_until)
        if locked_until > now:
            return Reservation(Outcome.LOCKED, locked_until - now)
        pair.fail(now, policy.pair)
        account.whole.fail(now, policy.account)
        account.expires = now + max(policy.pair.memory, policy.account.memory)
        return Reservation(Outcome.ALLOWED)

    async def password_succeeded(self, address: str, username: str) -> None:
        now = self._clock()
        window = self._window(address, now)
        if window is not None and window.count > 0:
            window.count -= 1
        account = self._accounts.get(username)
        if account is not None:
            account.whole = _Backoff()
            account.pairs.pop(address, None)

    async def unlock(self, username: str) -> None:
        self._accounts.pop(username, None)

    async def close(self) -> None:
        """Nothing to release: the counters go with the process."""

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY and len(self._addresses) + len(self._accounts) <= MAX_ENTRIES:
            return
        self._addresses = {k: v for k, v in self._addresses.items() if v.expires > now}
        self._accounts = {k: v for k, v in self._accounts.items() if v.expires > now}
        for table in (self._addresses, self._accounts):
            excess = len(table) - MAX_ENTRIES // 2
            for key in list(table)[: max(excess, 0)]:
                del table[key]
