"""Throttling over HTTP against real server processes: one node, two nodes sharing one
database and one Redis, and restarts. Client addresses are simulated with X-Forwarded-For
from a trusted proxy at 127.0.0.1; every request goes to 127.0.0.1."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.e2e.conftest import server_env
from tests.redis_support import RedisTarget, redis_target
from tests.support import PASSWORD
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.rows import accounts as accounts_table

if TYPE_CHECKING:
    import httpx

    from tests.e2e.conftest import Server, ServerFactory

__all__ = ["redis_target"]

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
WRONG = "not the password 000"


def call(
    server: Server, username: str, secret: str, *, is_api: bool, address: str
) -> httpx.Response:
    return server.post(
        "/client/authenticate",
        {"username": username, "secretKey": secret, "isAPI": is_api},
        headers={"X-Forwarded-For": address},
    )


def outcome(response: httpx.Response) -> str:
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["data"]["retryAfter"] == int(
            response.headers["retry-after"]
        )
        return "throttled"
    assert response.status_code == 200, response.text
    body = response.json()
    if "success" in body:
        return "ok"
    assert body["error"]["message"] == "invalid credentials"
    assert body["error"]["data"] == {"invalid": True}
    return "refused"


def failed_password_attempts(database_url: str, username: str) -> int:
    async def read() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                statement = select(accounts_table.c.failed_password_attempts).where(
                    accounts_table.c.username == username
                )
                return int((await conn.execute(statement)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_wrong_keys_end_in_429_while_the_owner_elsewhere_gets_in(
    server_factory: ServerFactory,
) -> None:
    """Over HTTP, wrong keys from one address end in 429 + Retry-After, the right key from
    that address too, while the owner's address still logs in with it."""
    server = server_factory(
        XPAY_AUTH_TRUSTED_PROXIES="127.0.0.1/32", XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="5"
    )
    server.create_user("owner@example.com")
    key = server.create_key("owner@example.com")
    secret = key["secretKey"]
    wrong = secret[:30] + ("A" if secret[30] != "A" else "B") + secret[31:]
    outcomes = [
        outcome(call(server, "owner@example.com", wrong, is_api=True, address=ATTACKER))
        for _ in range(7)
    ]
    assert outcomes == ["refused"] * 5 + ["throttled"] * 2
    assert (
        outcome(call(server, "owner@example.com", secret, is_api=True, address=ATTACKER))
        == "throttled"
    )
    assert outcome(call(server, "owner@example.com", secret, is_api=True, address=OWNER)) == "ok"


def test_the_consecutive_failure_count_survives_a_restart(
    server_factory: ServerFactory, database_url: str
) -> None:
    """Without Redis the short windows reset on restart, but the database's consecutive-failure
    count does not: the password stays refused until `xpay-auth users unlock`."""
    server = server_factory(
        XPAY_AUTH_TRUSTED_PROXIES="127.0.0.1/32", XPAY_AUTH_PASSWORD_MAX_FAILURES="3"
    )
    server.create_user("capped@example.com", password=PASSWORD)
    for n in range(3):
        assert (
            outcome(call(server, "capped@example.com", WRONG, is_api=False, address=f"192.0.2.{n}"))
            == "refused"
        )
    server.restart()
    assert (
        outcome(call(server, "capped@example.com", PASSWORD, is_api=False, address=OWNER))
        == "refused"
    )
    assert failed_password_attempts(database_url, "capped@example.com") == 3
    unlocked = server.cli_in_process("users", "unlock", "capped@example.com")
    assert "unlocked capped@example.com" in unlocked
    assert (
        outcome(call(server, "capped@example.com", PASSWORD, is_api=False, address=OWNER)) == "ok"
    )
    assert failed_password_attempts(database_url, "capped@example.com") == 0


@pytest.mark.redis
def test_two_nodes_share_counters_through_redis_and_keep_them_across_restarts(
    server_factory: ServerFactory, database_url: str, redis_target: RedisTarget
) -> None:
    """Two servers on one database and one Redis see one another's failures, a parallel
    burst across both gets no more guesses than the limits, and restarts forget nothing."""
    env = server_env(
        database_url,
        XPAY_AUTH_REDIS_URL=redis_target.url,
        XPAY_AUTH_REDIS_KEY_PREFIX=redis_target.prefix,
        XPAY_AUTH_TRUSTED_PROXIES="127.0.0.1/32",
        XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="10",
    )
    first = server_factory(env=env)
    second = server_factory(env=env)
    nodes = [first, second]
    first.create_user("shared@example.com", password=PASSWORD)
    first.create_user("burst@example.com", password=PASSWORD)

    # The (account, address) lock: five failures spread over both nodes lock it on both.
    for n in range(5):
        assert (
            outcome(call(nodes[n % 2], "shared@example.com", WRONG, is_api=False, address=ATTACKER))
            == "refused"
        )
    for node in nodes:
        assert (
            outcome(call(node, "shared@example.com", PASSWORD, is_api=False, address=ATTACKER))
            == "refused"
        )

    # The address limit: ten failures spread over both nodes throttle the address on both.
    spray = "192.0.2.99"
    for n in range(10):
        assert (
            outcome(call(nodes[n % 2], f"user{n}@example.com", WRONG, is_api=False, address=spray))
            == "refused"
        )
    for node in nodes:
        assert (
            outcome(call(node, "shared@example.com", PASSWORD, is_api=False, address=spray))
            == "throttled"
        )

    # Restart both nodes (well within the lock's first minute): the lock and the throttle
    # are still there.
    for node in nodes:
        node.restart()
    assert (
        outcome(call(second, "shared@example.com", PASSWORD, is_api=False, address=ATTACKER))
        == "refused"
    )
    assert (
        outcome(call(first, "shared@example.com", PASSWORD, is_api=False, address=spray))
        == "throttled"
    )
    # The owner, from another address, was never locked out.
    assert outcome(call(first, "shared@example.com", PASSWORD, is_api=False, address=OWNER)) == "ok"
    # The operator's unlock reaches the counters every node shares.
    first.cli_in_process("users", "unlock", "shared@example.com")
    assert (
        outcome(call(second, "shared@example.com", PASSWORD, is_api=False, address=ATTACKER))
        == "ok"
    )

    # A parallel burst from one address across both nodes: five real guesses at the account
    # (its lock), ten attempts in all (the address limit), the rest 429.
    def guess(n: int) -> str:
        return outcome(
            call(
                nodes[n % 2],
                "burst@example.com",
                f"guess {n:03d} wrong",
                is_api=False,
                address="192.0.2.150",
            )
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(guess, range(20)))
    assert outcomes.count("refused") == 10
    assert outcomes.count("throttled") == 10
    assert failed_password_attempts(database_url, "burst@example.com") == 5
