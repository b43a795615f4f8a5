"""What ``services.authenticate`` asks before and after checking a secret.

- API keys: the address's block is checked before any lookup and each failure is counted
  after it. Nothing is reserved, so a busy client authenticating many times at once is never
  slowed by its own successes; a burst of wrong keys can pass the limit only by the requests
  already in flight, each a guess at 256 random bits. With Redis the block is read from a
  per-node cache that every failure refreshes, so a valid key costs no round trip. While
  Redis cannot be reached, failures are counted in this process's memory instead, under
  the same limits, so a wrong key is still refused and counted (per node) rather than
  answered 503 and forgotten.
- Passwords: one atomic reservation per attempt, taken before the account is even looked up,
  counts the attempt as a failure of the address, of the (account, address) pair and of the
  account; a success gives it back. A burst of parallel guesses therefore gets exactly as
  many verifications as the limits allow.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from xpay_auth.errors import StorageUnavailable, TooManyRequests
from xpay_auth.logs import log_event
from xpay_auth.settings import Settings
from xpay_auth.throttling.memory import MemoryStore
from xpay_auth.throttling.policy import ThrottlePolicy, WindowRule, address_key
from xpay_auth.throttling.store import CounterStore, Outcome

# Blocks cached for the API-key path; past this many, the expired ones are dropped.
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class PasswordAttempt:
    """A reserved password attempt: ``locked`` means refuse it without checking the secret."""

    address: str
    username: str
    locked: bool


def _too_many(seconds: float, address: str) -> TooManyRequests:
    # RFC 9110 section 10.2.3: Retry-After in whole seconds, rounded up so that a client
    # honouring it is not refused again.
    return TooManyRequests(max(1, math.ceil(seconds)), detail=f"address {address} throttled")


class Throttle:
    def __init__(self, store: CounterStore, policy: ThrottlePolicy | None = None) -> None:
        self.store = store
        self.policy = policy or ThrottlePolicy()
        self._blocked_until: dict[str, float] = {}
        # Where API-key failures are counted while a shared store cannot be reached.
        self._fallback = MemoryStore() if store.shared else None
        self._degraded = False

    async def before_api_key(self, client_ip: str | None) -> None:
        """Refuse with 429 an address past its limit, before any lookup."""
        address = address_key(client_ip)
        if self._fallback is not None:
            until = self._blocked_until.get(address)
            left = until - time.monotonic() if until is not None else 0.0
            # No round trip: the memory counters are those of a Redis outage, if any.
            left = max(left, await self._fallback.address_block(address, self.policy))
        else:
            left = await self.store.address_block(address, self.policy)
        if left > 0:
            raise _too_many(left, address)

    async def api_key_failed(self, client_ip: str | None) -> None:
        address = address_key(client_ip)
        try:
            left = await self.store.record_address_failure(address, self.policy)
        except StorageUnavailable as exc:
            if self._fallback is None:
                raise
            # The key was wrong whatever Redis says: count it here and refuse it as usual.
            self._note_degraded(exc)
            await self._fallback.record_address_failure(address, self.policy)
            return
        self._note_recovered()
        self._remember_block(address, left)

    async def before_password(self, client_ip: str | None, username: str) -> PasswordAttempt:
        """Reserve one password attempt; 429 when the address is past its limit."""
        address = address_key(client_ip)
        reservation = await self.store.reserve_password(address, username, self.policy)
        if reservation.outcome is Outcome.ADDRESS_BLOCKED:
            self._remember_block(address, reservation.retry_after)
            raise _too_many(reservation.retry_after, address)
        return PasswordAttempt(address, username, locked=reservation.outcome is Outcome.LOCKED)

    async def password_succeeded(self, attempt: PasswordAttempt) -> None:
        await self.store.password_succeeded(attempt.address, attempt.username)

    async def unlock(self, username: str) -> None:
        await self.store.unlock(username)

    async def close(self) -> None:
        await self.store.close()

    def _note_degraded(self, exc: StorageUnavailable) -> None:
        if not self._degraded:
            self._degraded = True
            log_event("throttle.degraded", level=logging.WARNING, reason=exc.detail)

    def _note_recovered(self) -> None:
        if self._degraded:
            self._degraded = False
            log_event("throttle.recovered")

    def _remember_block(self, address: str, left: float) -> None:
        if not self.store.shared or left <= 0:
            return
        now = time.monotonic()
        if len(self._blocked_until) >= _CACHE_LIMIT:
            self._blocked_until = {k: v for k, v in self._blocked_until.items() if v > now}
        if len(self._blocked_until) < _CACHE_LIMIT:
            self._blocked_until[address] = now + left


def policy_from_settings(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        address=WindowRule(
            limit=settings.throttle_address_limit,
            window=settings.throttle_address_window,
            lockout=settings.throttle_address_lockout,
        )
    )


def build_throttle(settings: Settings) -> Throttle:
    """In memory by default; in Redis, shared by every node, when ``redis_url`` is set."""
    store: CounterStore
    if settings.redis_url:
        # redis-py, with the OpenTelemetry it loads, is imported only where Redis is used:
        # it is a tenth of a CLI command's start-up.
        from xpay_auth.throttling.redis_store import RedisStore  # noqa: PLC0415

        store = RedisStore.from_url(settings.redis_url, settings.redis_key_prefix)
    else:
        store = MemoryStore()
    return Throttle(store, policy_from_settings(settings))
