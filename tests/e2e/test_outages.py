"""The service under load while what it depends on goes away: PostgreSQL, Redis, its own stop.

Each test runs ``xpay-auth serve --workers 2`` with eight clients logging in, and checks what
the clients saw, answer by answer. PostgreSQL and Redis are private instances of the test,
never the shared servers.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Self

import pytest

from tests.e2e.conftest import Server, server_env
from tests.e2e.helpers import Direct, failure, success, wait_until
from tests.e2e.load import LoadResult, login_load

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.e2e.private_services import PrivatePostgres, PrivateRedis

pytest_plugins = ["tests.e2e.private_services"]
pytestmark = pytest.mark.slow
OWNER = "outage@example.com"
PASSWORD = "correct horse battery staple 9"
# A request slower than this while a dependency is away counts as a hang.
HANG_SECONDS = 5.0


class Load:
    """Eight clients logging in with one key, in a thread, until stopped."""

    def __init__(self, base_url: str, body: dict[str, Any]) -> None:
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=login_load,
            args=(base_url, body),
            kwargs={"seconds": 120, "stop": self._stop, "result": self.result},
        )

    def __enter__(self) -> Self:
        self._thread.start()
        wait_until(lambda: self.result.answered() > 0, timeout=30, every=0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.fixture
def postgres_server(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Server]:
    server = Server(env=server_env(private_postgres.url), workdir=tmp_path, workers=2)
    server.start()
    yield server
    server.stop()


@pytest.mark.postgres
def test_postgres_restarted_under_load_gives_only_503_and_recovers_by_itself(
    private_postgres: PrivatePostgres,
    postgres_server: Server,
    report: Callable[[str], None],
) -> None:
    """While PostgreSQL is down: 503 with Retry-After, no 500, no hang; 200 within 1 s of return."""
    server = postgres_server
    server.create_user(OWNER)
    secret = server.create_key(OWNER)["secretKey"]
    body = {"username": OWNER, "secretKey": secret, "isAPI": True}
    with Load(server.base_url, body) as load:
        time.sleep(1.0)
        stopped_at = time.monotonic()
        private_postgres.stop()
        time.sleep(2.0)
        private_postgres.start()
        back_at = time.monotonic()
        time.sleep(3.0)
    result = load.result
    assert set(result.statuses) <= {200, 503}, result.statuses
    assert result.statuses[503] > 0, "the outage was not seen"
    assert result.retry_after_missing == 0
    assert not result.transport_errors, result.transport_errors
    assert result.slowest < HANG_SECONDS
    timeline = sorted(result.timeline)
    failed_late = [(at - back_at, status) for at, status in timeline if at > back_at + 1.0]
    assert {status for _, status in failed_late} == {200}, failed_late[:5]
    first_ok = min(at for at, status in timeline if at > back_at and status == 200)
    report(
        f"PostgreSQL restart: {sum(result.statuses.values())} answers, "
        f"{result.statuses[503]} x 503 (all with Retry-After), 0 x 500; down "
        f"{back_at - stopped_at:.1f} s; first 200 {first_ok - back_at:.3f} s after its return; "
        f"slowest answer {result.slowest:.2f} s"
    )


def test_redis_stopped_refuses_passwords_and_keeps_api_keys_working(
    private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path
) -> None:
    """Without Redis: valid keys log in, wrong keys are refused, passwords get 503; then back."""
    server = Server(
        env=server_env(sqlite_url, XPAY_AUTH_REDIS_URL=private_redis.url),
        workdir=tmp_path,
        workers=2,
    )
    server.start()
    try:
        server.create_user(OWNER, password=PASSWORD)
        secret = server.create_key(OWNER)["secretKey"]
        right_key = {"username": OWNER, "secretKey": secret, "isAPI": True}
        changed = "y" if secret.endswith("x") else "x"
        wrong_key = {"username": OWNER, "secretKey": secret[:-1] + changed, "isAPI": True}
        right_password = {"username": OWNER, "secretKey": PASSWORD, "isAPI": False}
        wrong_password = {"username": OWNER, "secretKey": PASSWORD + "x", "isAPI": False}
        assert success(server.post("/client/authenticate", right_password))

        private_redis.stop()
        for _ in range(4):  # both workers
            assert success(server.post("/client/authenticate", right_key))
            # Counted in the worker's memory meanwhile, under the same address limit.
            assert failure(server.post("/client/authenticate", wrong_key))["data"] == {
                "invalid": True
            }
            # A password login reserves its attempt in Redis first, right or wrong: 503.
            for attempt in (right_password, wrong_password):
                started = time.monotonic()
                answer = server.post("/client/authenticate", attempt)
                assert time.monotonic() - started < HANG_SECONDS
                failure(answer, 503)
                assert answer.headers["retry-after"].isdigit()

        private_redis.start()
        wait_until(
            lambda: server.post("/client/authenticate", right_password).status_code == 200,
            timeout=10,
        )
        assert failure(server.post("/client/authenticate", wrong_password))["data"] == {
            "invalid": True
        }
    finally:
        server.stop()


def test_sigterm_under_load_finishes_in_flight_logins_and_loses_none(
    sqlite_url: str, tmp_path: Path, report: Callable[[str], None]
) -> None:
    """On SIGTERM every login the server took is answered, and every answered one is stored."""
    server = Server(env=server_env(sqlite_url), workdir=tmp_path, workers=2)
    server.start()
    server.create_user(OWNER)
    secret = server.create_key(OWNER)["secretKey"]
    body = {"username": OWNER, "secretKey": secret, "isAPI": True}
    with Load(server.base_url, body) as load:
        time.sleep(1.0)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) in {0, -signal.SIGTERM}
    result = load.result
    assert set(result.statuses) == {200}, result.statuses
    acknowledged = set(result.tickets)
    server.start()
    try:
        direct = Direct(server)
        stored = direct.stored_tickets(acknowledged)
        # Equal, not just a superset: no login was processed without its answer arriving.
        audited = direct.audited_tickets("login.succeeded")
    finally:
        server.stop()
    assert stored == acknowledged
    assert audited == acknowledged
    report(
        f"SIGTERM under load: {len(acknowledged)} acknowledged logins, all stored and audited; "
        f"{sum(result.transport_errors.values())} requests refused at the socket after the stop"
    )
