"""Redis for tests: the server named by ``XPAY_AUTH_TEST_REDIS_URL``, a key prefix per test.

CI sets ``XPAY_AUTH_TEST_REDIS_PREFIX`` to a name unique to its run; each test adds its own
random part, and deletes its keys when it ends. An unreachable Redis skips the test outside
CI and fails it in CI (``tests.conftest.unavailable``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import redis
from redis.exceptions import RedisError

from tests.conftest import unavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    url: str
    prefix: str


def redis_url() -> str:
    return os.environ.get("XPAY_AUTH_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def _keys_under(client: redis.Redis, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}*", count=500))


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """A reachable Redis and a key prefix no other test uses; its keys are deleted after."""
    url = redis_url()
    base = os.environ.get("XPAY_AUTH_TEST_REDIS_PREFIX", "xpay-auth-test")
    prefix = f"{base}:{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except RedisError as exc:
        client.close()
        unavailable(f"Redis is not reachable at {url}: {exc}")
    try:
        yield RedisTarget(url, prefix)
    finally:
        keys = _keys_under(client, prefix)
        if keys:
            client.delete(*keys)
        client.close()
