"""Throttling in-process: per address (429 before any lookup), per account for passwords
(a lock that answers like a wrong password), and the persistent consecutive-failure cap."""

from __future__ import annotations

import asyncio
import socket
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.support import PASSWORD, Harness, running_app
from xpay_auth.app import create_app
from xpay_auth.errors import InvalidCredentials, TooManyRequests
from xpay_auth.request_context import RequestContext
from xpay_auth.security.passwords import PasswordHashing, Verdict
from xpay_auth.services import accounts, lockout
from xpay_auth.services.authenticate import Credentials, authenticate
from xpay_auth.settings import Argon2Profile, Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

    from xpay_auth.runtime import Runtime
from xpay_auth.security import api_keys

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
ADDRESS_LIMIT = 10


@contextmanager
def proxied_app(settings: Settings) -> Iterator[Harness]:
    """The app behind a trusted proxy at 127.0.0.1, so X-Forwarded-For names the client."""
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        yield Harness(client)


@pytest.fixture
def proxied(database_url: str) -> Iterator[Harness]:
    settings = make_settings(
        database_url, trusted_proxies=["127.0.0.1/32"], throttle_address_limit=ADDRESS_LIMIT
    )
    with proxied_app(settings) as harness:
        yield harness


def attempt(
    harness: Harness, username: str, secret: str, *, is_api: bool, address: str
) -> httpx.Response:
    response: httpx.Response = harness.post(
        "/client/authenticate",
        {"username": username, "secretKey": secret, "isAPI": is_api},
        headers={"X-Forwarded-For": address},
    )
    return response


def refused(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 200 and body["error"]["message"] == "invalid credentials"


def succeeded(response: httpx.Response) -> bool:
    return response.status_code == 200 and "success" in response.json()


def wrong_key(secret: str) -> str:
    """A well-formed key of the same id whose random part is wrong (checksum recomputed)."""
    parsed = api_keys.parse(secret)
    assert parsed is not None
    return api_keys.generate(parsed.key_id).secret


class Counting:
    """Counts calls to a method of an object, passing them through."""

    def __init__(
        self, owner: Any, name: str, *, when: Callable[..., bool] = lambda *_: True
    ) -> None:
        self.calls = 0
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                self.calls += 1
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)


def test_wrong_keys_end_in_429_while_the_owner_elsewhere_gets_in(proxied: Harness) -> None:
    """Past the limit an address gets 429 with Retry-After even for the right key; another
    address with the right key still logs in."""
    proxied.create_user("owner@example.com")
    _, secret = proxied.create_key("owner@example.com")
    bad = wrong_key(secret)
    answers = [
        attempt(proxied, "owner@example.com", bad, is_api=True, address=ATTACKER)
        for _ in range(ADDRESS_LIMIT)
    ]
    assert all(refused(answer) for answer in answers)
    throttled = attempt(proxied, "owner@example.com", bad, is_api=True, address=ATTACKER)
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= 300
    body = throttled.json()
    assert body["error"]["message"] == "too many requests"
    assert body["error"]["data"] == {"retryAfter": retry_after}
    assert body["uuid"]
    right_from_attacker = attempt(
        proxied, "owner@example.com", secret, is_api=True, address=ATTACKER
    )
    assert right_from_attacker.status_code == 429
    assert succeeded(attempt(proxied, "owner@example.com", secret, is_api=True, address=OWNER))


def test_a_throttled_address_reaches_no_lookup_and_no_secret_check(proxied: Harness) -> None:
    """Once an address is throttled, neither path reads the database or checks a secret."""
    proxied.create_user("owner@example.com")
    _, secret = proxied.create_key("owner@example.com")
    for n in range(ADDRESS_LIMIT):
        attempt(
            proxied,
            f"nobody{n}@example.com",
            "wrong password 123456",
            is_api=False,
            address=ATTACKER,
        )
    runtime = proxied.runtime
    lookups = [
        Counting(runtime.database.api_keys, "with_account"),
        Counting(runtime.database.accounts, "by_username"),
    ]
    checks = [Counting(runtime.key_hasher, "matches"), Counting(runtime.passwords, "verify")]
    for is_api, secret_text in ((True, secret), (False, PASSWORD)):
        response = attempt(
            proxied, "owner@example.com", secret_text, is_api=is_api, address=ATTACKER
        )
        assert response.status_code == 429
    assert [spy.calls for spy in lookups + checks] == [0, 0, 0, 0]


def test_locked_password_answers_exactly_like_an_unknown_account(proxied: Harness) -> None:
    """After the per-address lock, the right password is refused with the same status, headers
    and body as an unknown user's, while the owner's other address still logs in."""
    proxied.create_user("locked@example.com")
    for _ in range(5):
        assert refused(
            attempt(
                proxied, "locked@example.com", "wrong password 1234", is_api=False, address=ATTACKER
            )
        )
    locked = attempt(proxied, "locked@example.com", PASSWORD, is_api=False, address=ATTACKER)
    unknown = attempt(proxied, "ghost@example.com", PASSWORD, is_api=False, address=ATTACKER)

    def shape(response: httpx.Response) -> tuple[int, dict[str, str], dict[str, Any]]:
        headers = {k: v for k, v in response.headers.items() if k != "date"}
        body = response.json()
        body["uuid"] = body["error"]["tag"] = "-"
        return response.status_code, headers, body

    assert refused(locked)
    assert shape(locked) == shape(unknown)
    assert succeeded(attempt(proxied, "locked@example.com", PASSWORD, is_api=False, address=OWNER))


def test_a_locked_password_never_locks_the_api_keys(proxied: Harness) -> None:
    """Password failures lock the password only: the account's key still works from there."""
    proxied.create_user("keys@example.com")
    _, secret = proxied.create_key("keys@example.com")
    for _ in range(6):
        attempt(proxied, "keys@example.com", "wrong password 1234", is_api=False, address=ATTACKER)
    assert refused(attempt(proxied, "keys@example.com", PASSWORD, is_api=False, address=ATTACKER))
    assert succeeded(attempt(proxied, "keys@example.com", secret, is_api=True, address=ATTACKER))


def test_a_success_clears_the_account_counters(proxied: Harness) -> None:
    """A right password after four wrong ones resets the count: four more wrong ones do not lock."""
    account_id = proxied.create_user("clear@example.com")
    for _ in range(2):
        for _ in range(4):
            attempt(
                proxied, "clear@example.com", "wrong password 1234", is_api=False, address=OWNER
            )
        assert succeeded(
            attempt(proxied, "clear@example.com", PASSWORD, is_api=False, address=OWNER)
        )
    stored = proxied.run(lambda runtime: runtime.database.accounts.by_id(account_id))
    assert stored is not None
    assert stored.failed_password_attempts == 0


def test_consecutive_failures_disable_password_login_until_unlock(database_url: str) -> None:
    """Past ``password_max_failures`` wrong passwords, from any addresses, password login is
    refused until an operator unlocks it; the count lives in the database."""
    settings = make_settings(
        database_url, trusted_proxies=["127.0.0.1/32"], password_max_failures=3
    )
    with proxied_app(settings) as harness:
        account_id = harness.create_user("capped@example.com")
        for n in range(3):
            wrong = attempt(
                harness,
                "capped@example.com",
                "wrong password 1234",
                is_api=False,
                address=f"192.0.2.{n}",
            )
            assert refused(wrong)
        stored = harness.run(lambda runtime: runtime.database.accounts.by_id(account_id))
        assert stored is not None
        assert stored.failed_password_attempts == 3
        assert refused(
            attempt(harness, "capped@example.com", PASSWORD, is_api=False, address=OWNER)
        )

        async def unlock(runtime: Runtime) -> None:
            account = await accounts.require_account(
                runtime.database.accounts, "capped@example.com"
            )
            await lockout.unlock_password(runtime.services.lockout, account)

        harness.run(unlock)
        assert succeeded(
            attempt(harness, "capped@example.com", PASSWORD, is_api=False, address=OWNER)
        )


async def _burst(runtime: Runtime, calls: list[tuple[str, str]], address: str) -> list[str]:
    """Run the authenticate service for each (username, password) at once; name each outcome."""

    async def one(username: str, password: str) -> str:
        try:
            await authenticate(
                runtime.services.login,
                Credentials(username, password, is_api=False),
                RequestContext("u", address),
            )
        except InvalidCredentials:
            return "refused"
        except TooManyRequests:
            return "throttled"
        return "ok"

    return list(await asyncio.gather(*(one(u, p) for u, p in calls)))


def test_parallel_wrong_passwords_get_no_more_guesses_than_the_lock_allows(
    harness: Harness,
) -> None:
    """Fifteen parallel guesses at one account from one address get five real verifications."""
    account_id = harness.create_user("burst@example.com")
    runtime = harness.runtime
    real = Counting(runtime.passwords, "verify", when=lambda stored, _: stored is not None)
    guesses = [("burst@example.com", f"guess number {n:04d}") for n in range(15)]
    outcomes = harness.run(lambda rt: _burst(rt, guesses, ATTACKER))
    assert outcomes == ["refused"] * 15
    assert real.calls == 5
    stored = harness.run(lambda rt: rt.database.accounts.by_id(account_id))
    assert stored is not None
    assert stored.failed_password_attempts == 5
    assert harness.run(lambda rt: _burst(rt, [("burst@example.com", PASSWORD)], ATTACKER)) == [
        "refused"
    ]


def test_a_parallel_spray_from_one_address_stops_at_the_address_limit(harness: Harness) -> None:
    """Forty parallel guesses at forty accounts from one address: twenty checked, the rest 429."""
    for n in range(40):
        harness.create_user(f"spray{n}@example.com")
    real = Counting(harness.runtime.passwords, "verify")
    outcomes = harness.run(
        lambda rt: _burst(
            rt, [(f"spray{n}@example.com", "spring season 2024!") for n in range(40)], ATTACKER
        )
    )
    assert outcomes.count("refused") == 20
    assert outcomes.count("throttled") == 20
    assert real.calls == 20


def test_login_rehashes_when_the_argon2_parameters_change(harness: Harness) -> None:
    """A hash made under older parameters is replaced on the next successful login."""
    account_id = harness.create_user("rehash@example.com")
    before = harness.run(lambda rt: rt.database.accounts.by_id(account_id))
    assert before is not None
    assert before.password_hash is not None
    assert "m=8," in before.password_hash
    harness.replace_parts(passwords=PasswordHashing(Argon2Profile.OWASP))
    harness.token_for_password("rehash@example.com")
    after = harness.run(lambda rt: rt.database.accounts.by_id(account_id))
    assert after is not None
    assert after.password_hash is not None
    assert "m=19456,t=2,p=1" in after.password_hash
    assert harness.runtime.passwords.verify(after.password_hash, PASSWORD) == Verdict(valid=True)
    harness.token_for_password("rehash@example.com")


def test_login_normalizes_the_password_like_account_creation(harness: Harness) -> None:
    """A password set with compatibility characters opens with its NFKC form and vice versa."""
    # Fullwidth letters (U+FF41...), which NFKC folds to ASCII.
    fullwidth = "".join(
        chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in "fullwidth passphrase 42"
    )
    harness.create_user("nfkc@example.com", password=fullwidth)
    harness.token_for_password("nfkc@example.com", "fullwidth passphrase 42")
    harness.token_for_password("nfkc@example.com", fullwidth)


def test_without_redis_a_valid_key_still_logs_in_and_passwords_answer_503(sqlite_url: str) -> None:
    """When Redis is down, API keys keep working (their success path never waits for it) and
    password logins answer 503 rather than skip their throttle."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(sqlite_url, redis_url=f"redis://127.0.0.1:{port}/0")
    with running_app(settings) as harness:
        harness.create_user("redisless@example.com")
        _, secret = harness.create_key("redisless@example.com")
        harness.login("redisless@example.com", secret)
        response = harness.post(
            "/client/authenticate",
            {"username": "redisless@example.com", "secretKey": PASSWORD, "isAPI": False},
        )
        assert response.status_code == 503
        assert response.json()["error"]["message"] == "storage unavailable"


def test_an_operator_unlocks_password_login_over_the_admin_call(database_url: str) -> None:
    """`unlockPassword` on /admin/users/update clears the count and the locks, and is audited."""
    settings = make_settings(database_url, password_max_failures=2)
    with running_app(settings) as harness:
        harness.create_user("root@example.com", scopes=("tme_admin",))
        admin = harness.token_for_password("root@example.com")
        harness.create_user("pat@example.com")
        for _ in range(2):
            body = {"username": "pat@example.com", "secretKey": "wrong pass 12345", "isAPI": False}
            assert refused(harness.post("/client/authenticate", body))
        search = harness.post("/admin/users/search", {"query": "pat@"}, token=admin).json()
        assert search["success"]["data"]["items"][0]["failedPasswordAttempts"] == 2
        body = {"username": "pat@example.com", "secretKey": PASSWORD, "isAPI": False}
        assert refused(harness.post("/client/authenticate", body))
        update = {"username": "pat@example.com", "unlockPassword": True}
        answer = harness.post("/admin/users/update", update, token=admin).json()
        assert answer["success"]["data"]["failedPasswordAttempts"] == 0
        harness.token_for_password("pat@example.com")
        rows = harness.run(
            lambda rt: rt.database.audit.search(
                filters={"event": "account.unlocked"},
                since_ms=None,
                until_ms=None,
                offset=0,
                limit=10,
            )
        )
        assert [(row["username"], row["actor"]) for row in rows.items] == [
            ("pat@example.com", "root@example.com")
        ]
