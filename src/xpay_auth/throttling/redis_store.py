"""Counters in Redis, shared by every node: set ``XPAY_AUTH_REDIS_URL``.

Each operation is one Lua script, which Redis runs atomically, so nodes racing on the same
address or account cannot both slip under a limit. Times come from the Redis server
(``TIME``, key expiry), so nodes with skewed clocks agree. Counters survive a restart of
xpay-auth, and of Redis as far as its persistence is configured.

Keys, under the configured prefix:

- ``addr:<address>``: the address's failures in its window; the key's expiry ends the
  window or the lockout;
- ``pw:<username>``: a hash of the account's password counters, field ``acct`` for the
  account-wide one and ``a:<address>`` for each (account, address) pair, each holding
  ``count:last failure ms:locked until ms``. One key per account lets an operator's unlock
  clear every pair at once.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from xpay_auth.errors import StorageUnavailable
from xpay_auth.throttling.policy import ThrottlePolicy
from xpay_auth.throttling.store import Outcome, Reservation

_ADDRESS_BLOCK = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return redis.call('PTTL', KEYS[1])
end
return 0
"""

# Shared by the two scripts that count an address failure. ARGV[1..3]: limit, window ms,
# lockout ms. Reaching the limit restarts the key's life as the lockout.
_COUNT_ADDRESS = """
local function count_address(key, limit, window, lockout)
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window)
  end
  if count == limit or redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, lockout)
  end
  return count
end
"""

_ADDRESS_FAILURE = (
    _COUNT_ADDRESS
    + """
local limit = tonumber(ARGV[1])
local count = count_address(KEYS[1], limit, ARGV[2], ARGV[3])
if count >= limit then
  return redis.call('PTTL', KEYS[1])
end
return 0
"""
)

# ARGV: limit, window ms, lockout ms, address, then for the pair and the account rule each:
# free, base ms, cap ms, memory ms. Returns {outcome, retry ms}: 0 allowed, 1 address
# blocked, 2 locked.
_RESERVE_PASSWORD = (
    _COUNT_ADDRESS
    + """
local limit = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= limit then
  return {1, redis.call('PTTL', KEYS[1])}
end
count_address(KEYS[1], limit, ARGV[2], ARGV[3])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function load(field, memory)
  local raw = redis.call('HGET', KEYS[2], field)
  if not raw then
    return 0, 0
  end
  local n, last, lock = string.match(raw, '^(%d+):(%d+):(%d+)$')
  if not n or now - tonumber(last) >= memory then
    return 0, 0
  end
  return tonumber(n), tonumber(lock)
end

local function fail(field, n, lock, free, base, cap)
  n = n + 1
  if n >= free then
    lock = now + math.min(cap, base * 2 ^ math.min(n - free, 40))
  end
  redis.call('HSET', KEYS[2], field, string.format('%d:%d:%d', n, now, math.floor(lock)))
end

local pair_field = 'a:' .. ARGV[4]
local pair_memory, account_memory = tonumber(ARGV[8]), tonumber(ARGV[12])
local pair_n, pair_lock = load(pair_field, pair_memory)
local account_n, account_lock = load('acct', account_memory)
local locked_until = math.max(pair_lock, account_lock)
if locked_until > now then
  return {2, locked_until - now}
end
fail(pair_field, pair_n, pair_lock, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
fail('acct', account_n, account_lock, tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
redis.call('PEXPIRE', KEYS[2], math.max(pair_memory, account_memory))

-- Many addresses against one account: forget the pairs whose failures are stale.
if redis.call('HLEN', KEYS[2]) > 64 then
  local fields = redis.call('HGETALL', KEYS[2])
  for i = 1, #fields, 2 do
    local last = string.match(fields[i + 1], '^%d+:(%d+):')
    if fields[i] ~= 'acct' and (not last or now - tonumber(last) >= pair_memory) then
      redis.call('HDEL', KEYS[2], fields[i])
    end
  end
end
return {0, 0}
"""
)

_SUCCESS_SCRIPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
redis.call('HDEL', KEYS[2], 'acct', 'a:' .. ARGV[1])
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _seconds(milliseconds: Any) -> float:
    return max(int(milliseconds), 0) / 1000


class RedisStore:
    shared = True

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._address_block = client.register_script(_ADDRESS_BLOCK)
        self._address_failure = client.register_script(_ADDRESS_FAILURE)
        self._reserve = client.register_script(_RESERVE_PASSWORD)
        self._succeeded = client.register_script(_SUCCESS_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisStore:
        # Short timeouts: a login waits on these, and an unreachable Redis must become a
        # quick 503 rather than a hung request.
        client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client, prefix)

    def _address_key(self, address: str) -> str:
        return f"{self._prefix}addr:{address}"

    def _account_key(self, username: str) -> str:
        return f"{self._prefix}pw:{username}"

    @staticmethod
    def _address_args(policy: ThrottlePolicy) -> list[int]:
        rule = policy.address
        return [rule.limit, _ms(rule.window), _ms(rule.lockout)]

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except RedisError as exc:
            raise StorageUnavailable(detail=f"redis: {type(exc).__name__}") from exc

    async def address_block(self, address: str, policy: ThrottlePolicy) -> float:
        left = await self._call(
            self._address_block, [self._address_key(address)], [policy.address.limit]
        )
        return _seconds(left)

    async def record_address_failure(self, address: str, policy: ThrottlePolicy) -> float:
        left = await self._call(
            self._address_failure, [self._address_key(address)], self._address_args(policy)
        )
        return _seconds(left)

    async def reserve_password(
        self, address: str, username: str, policy: ThrottlePolicy
    ) -> Reservation:
        args: list[Any] = [*self._address_args(policy), address]
        for rule in (policy.pair, policy.account):
            args += [rule.free, _ms(rule.base), _ms(rule.cap), _ms(rule.memory)]
        outcome, left = await self._call(
            self._reserve, [self._address_key(address), self._account_key(username)], args
        )
        kinds = {0: Outcome.ALLOWED, 1: Outcome.ADDRESS_BLOCKED, 2: Outcome.LOCKED}
        return Reservation(kinds[int(outcome)], _seconds(left))

    async def password_succeeded(self, address: str, username: str) -> None:
        await self._call(
            self._succeeded,
            [self._address_key(address), self._account_key(username)],
            [address],
        )

    async def unlock(self, username: str) -> None:
        try:
            await self._client.delete(self._account_key(username))
        except RedisError as exc:
            raise StorageUnavailable(detail=f"redis: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._client.aclose()
