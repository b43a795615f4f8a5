"""Logins while the shared throttle store is down: a private redis-server that the test
stops (the shared one is never touched), with the app in-process on every database."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
import redis

from tests.conftest import make_settings, unavailable
from tests.e2e.conftest import free_port
from tests.envelopes import audit_events, failure
from tests.support import PASSWORD, Harness, running_app

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

USER = "ops@example.com"
ADDRESS_LIMIT = 5


class PrivateRedis:
    """A redis-server of this test's own, on a free port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("the private redis-server did not start")
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def outage(database_url: str, private_redis: PrivateRedis) -> Iterator[Harness]:
    """The app throttling through the private Redis, which is stopped once an account exists."""
    settings = make_settings(
        database_url, redis_url=private_redis.url, throttle_address_limit=ADDRESS_LIMIT
    )
    with running_app(settings) as harness:
        harness.create_user(USER)
        _, secret = harness.create_key(USER)
        harness.token_for_key(USER, secret)
        harness.token_for_password(USER)
        private_redis.stop()
        harness.secret = secret  # type: ignore[attr-defined]
        yield harness


def _authenticate(harness: Harness, secret: str, *, is_api: bool) -> object:
    body = {"username": USER, "secretKey": secret, "isAPI": is_api}
    return harness.post("/client/authenticate", body)


def test_a_login_refused_with_503_while_redis_is_down_is_audited(outage: Harness) -> None:
    """A password login that cannot reserve its attempt answers 503 and is recorded as
    `login.failed` with outcome `unavailable`, the reason and the tag the client saw."""
    for password in (PASSWORD, "a wrong password, long enough"):
        error = failure(_authenticate(outage, password, is_api=False), 503)  # type: ignore[arg-type]
        refused = audit_events(outage, "login.failed")[0]
        assert (refused.outcome, refused.error_tag, refused.username) == (
            "unavailable",
            error["tag"],
            USER,
        )
        assert refused.detail is not None
        assert refused.detail["reason"].startswith("redis:")
    assert len(audit_events(outage, "login.failed")) == 2


def test_wrong_api_keys_are_counted_and_audited_while_redis_is_down(outage: Harness) -> None:
    """Without Redis a wrong key is still refused as `invalid credentials` and audited, and
    the address limit, counted in memory meanwhile, ends in 429 even for the right key."""
    secret: str = outage.secret  # type: ignore[attr-defined]
    wrong = secret[:-8] + ("A" if secret[-8] != "A" else "B") + secret[-7:]
    for _ in range(ADDRESS_LIMIT):
        error = failure(_authenticate(outage, wrong, is_api=True))  # type: ignore[arg-type]
        assert error["message"] == "invalid credentials"
    throttled = _authenticate(outage, secret, is_api=True)
    assert failure(throttled, 429)["data"]["retryAfter"] > 0  # type: ignore[arg-type]
    refused = audit_events(outage, "login.failed")
    assert [event.outcome for event in refused] == ["refused"] * ADDRESS_LIMIT
    assert [event.outcome for event in audit_events(outage, "login.throttled")] == ["throttled"]
