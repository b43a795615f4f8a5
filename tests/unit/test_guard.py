"""The guard's verdicts, key-set caching and revocation feed, against an in-process fake."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from tests.unit.guard_fakes import AUTH_URL, FakeAuth, FakeClock, bearer, make_guard
from xpay_auth.errors import Forbidden, Unauthorized
from xpay_auth.guard import Guard, GuardConfig, GuardUnavailable
from xpay_auth.guard._keys import parse_jwks
from xpay_auth.logs import now_ms
from xpay_auth.security import signing_keys
from xpay_auth.security.revocation import Revocation, RevocationKind

pytestmark = pytest.mark.anyio


@pytest.fixture
def auth() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def guard(auth: FakeAuth, clock: FakeClock) -> AsyncIterator[Guard]:
    guard = make_guard(auth, clock)
    await guard.start(background=False)
    yield guard
    await guard.stop()


# -- configuration ---------------------------------------------------------------------


async def test_config_derives_feed_urls_from_the_base_url() -> None:
    """The key set and revocation URLs hang off the base URL, a path prefix included."""
    config = GuardConfig(auth_url="https://gw.example/xpay-auth/")
    assert config.jwks_url == "https://gw.example/xpay-auth/.well-known/jwks.json"
    assert config.revocations_url == "https://gw.example/xpay-auth/auth/revocations"


async def test_config_defaults_state_the_revocation_bounds() -> None:
    """By default revocations arrive within 3 s and are honoured within 5 s at most."""
    config = GuardConfig(auth_url=AUTH_URL)
    assert config.poll_interval == 2.0
    assert config.revocation_delay == 3.0
    assert config.revocation_bound == 5.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth_url": "ftp://auth.test"},
        {"auth_url": "http://auth.test/?x=1"},
        {"poll_interval": 0},
        {"max_staleness": 2.5},  # below poll_interval + request_timeout
        {"leeway": -1},
    ],
)
async def test_config_refuses_settings_that_cannot_hold_the_bound(
    overrides: dict[str, object],
) -> None:
    """Settings that are unusable or would make the guard refuse every other poll are refused."""
    values: dict[str, object] = {"auth_url": AUTH_URL, **overrides}
    with pytest.raises(ValueError):  # noqa: PT011  each case has its own message
        GuardConfig(**values)  # type: ignore[arg-type]


async def test_config_reads_the_environment() -> None:
    """XPAY_GUARD_* variables fill the config, and a missing auth URL is named."""
    config = GuardConfig.from_environ(
        {
            "XPAY_GUARD_AUTH_URL": AUTH_URL,
            "XPAY_GUARD_USERNAME": "guard",
            "XPAY_GUARD_SECRET_KEY": "the-secret",
            "XPAY_GUARD_POLL_INTERVAL": "1.5",
            "XPAY_GUARD_LEEWAY": "5",
            "XPAY_GUARD_INSECURE_HOSTS": "auth.internal, other.internal",
        }
    )
    assert (config.auth_url, config.poll_interval, config.leeway) == (AUTH_URL, 1.5, 5)
    assert config.insecure_hosts == ("auth.internal", "other.internal")
    assert config.credentials is not None
    assert config.credentials[1].get_secret_value() == "the-secret"
    assert "the-secret" not in repr(config)
    with pytest.raises(ValueError, match="XPAY_GUARD_AUTH_URL"):
        GuardConfig.from_environ({})
    with pytest.raises(ValueError, match="XPAY_GUARD_USERNAME and XPAY_GUARD_SECRET_KEY"):
        GuardConfig.from_environ({"XPAY_GUARD_AUTH_URL": AUTH_URL})


# -- verdicts -----------------------------------------------------------------------------


async def test_valid_token_gives_its_claims(auth: FakeAuth, guard: Guard) -> None:
    """A token signed by a published key, for this audience, is accepted with its claims."""
    ticket = secrets.token_hex(16)
    claims = await guard.authorize(bearer(auth.token(ticket=ticket)), ["tme_user"])
    assert claims.ticket == ticket
    assert claims.scopes == ("tme_user",)
    assert claims.username == "alice@example.com"


async def test_missing_bearer_gets_a_bare_challenge(guard: Guard) -> None:
    """No Authorization header is a 401 whose challenge carries no error code (RFC 6750 3.1)."""
    with pytest.raises(Unauthorized) as caught:
        await guard.authenticate(None)
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer a b", "bearer \u00e9t\u00e9"])
async def test_malformed_authorization_is_invalid_token(guard: Guard, header: str) -> None:
    """A header that is not "Bearer <b64token>" is a 401 with error="invalid_token"."""
    with pytest.raises(Unauthorized) as caught:
        await guard.authenticate(header)
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_expired_token_is_refused(auth: FakeAuth, guard: Guard) -> None:
    """A token past exp plus the leeway is a 401."""
    token = auth.token(issued_at=int(time.time()) - 700, lifetime=600)
    with pytest.raises(Unauthorized, match="expired"):
        await guard.authenticate(bearer(token))


@pytest.mark.parametrize(
    ("field", "value"), [("audience", "other-api"), ("issuer", "someone-else")]
)
async def test_foreign_audience_or_issuer_is_refused(
    auth: FakeAuth, guard: Guard, field: str, value: str
) -> None:
    """A token made for another audience, or by another issuer, is a 401."""
    with pytest.raises(Unauthorized):
        await guard.authenticate(bearer(auth.token(**{field: value})))  # type: ignore[arg-type]


async def test_signature_by_an_unpublished_key_under_a_known_kid_is_refused(
    auth: FakeAuth, guard: Guard
) -> None:
    """A token signed with another private key but naming a published kid fails the signature."""
    impostor = signing_keys.generate(now_ms())
    forged = signing_keys.SigningKey(
        auth.keys[0].kid, impostor.public_key, impostor.private_key, impostor.created_at
    )
    with pytest.raises(Unauthorized, match=r"[Ss]ignature"):
        await guard.authenticate(bearer(auth.token(key=forged)))


async def test_algorithms_other_than_es256_are_refused(auth: FakeAuth, guard: Guard) -> None:
    """alg none and HS256 (keyed with the public JWK) are refused before any key is used."""
    claims = jwt.decode(auth.token(), options={"verify_signature": False})
    kid = auth.keys[0].kid
    header = {"kid": kid, "typ": "at+jwt"}
    unsigned = jwt.encode(claims, None, algorithm="none", headers=header)  # type: ignore[arg-type]
    hmac = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"})
    for token in (unsigned, hmac):
        with pytest.raises(Unauthorized, match="not allowed"):
            await guard.authenticate(bearer(token))


async def test_missing_scope_is_forbidden(auth: FakeAuth, guard: Guard) -> None:
    """A valid token without a required scope is a 403 naming the scope (RFC 6750 3.1)."""
    with pytest.raises(Forbidden) as caught:
        await guard.authorize(bearer(auth.token(scopes=("tme_introspect",))), ["tme_user"])
    assert caught.value.data == {"required": "tme_user"}
    assert 'error="insufficient_scope"' in caught.value.headers["WWW-Authenticate"]


# -- key set --------------------------------------------------------------------------------


async def test_new_kid_is_fetched_once_and_then_accepted(auth: FakeAuth, guard: Guard) -> None:
    """After a rotation, the first token with the new kid triggers one fetch and passes."""
    assert auth.jwks_hits == 1
    new_key = auth.rotate()
    claims = await guard.authenticate(bearer(auth.token(key=new_key)))
    assert claims.scopes == ("tme_user",)
    assert auth.jwks_hits == 2
    await guard.authenticate(bearer(auth.token(key=new_key)))
    assert auth.jwks_hits == 2


async def test_forged_kids_fetch_the_key_set_at_most_once_per_interval(
    auth: FakeAuth, guard: Guard, clock: FakeClock
) -> None:
    """A flood of tokens naming made-up kids costs one key-set fetch per interval, not one each."""
    impostor = signing_keys.generate(now_ms())
    tokens = [bearer(auth.token(key=impostor)) for _ in range(3)]
    for _ in range(20):
        for token in tokens:
            with pytest.raises(Unauthorized, match="unknown kid"):
                await guard.authenticate(token)
    assert auth.jwks_hits == 2  # the start, and one refetch
    clock.advance(guard.config.kid_refetch_interval)
    with pytest.raises(Unauthorized):
        await guard.authenticate(tokens[0])
    assert auth.jwks_hits == 3


async def test_concurrent_unknown_kids_share_one_fetch(auth: FakeAuth, guard: Guard) -> None:
    """Many requests with a new kid at once wait for a single fetch and all pass."""
    new_key = auth.rotate()
    token = bearer(auth.token(key=new_key))
    results = await asyncio.gather(*(guard.authenticate(token) for _ in range(10)))
    assert len(results) == 10
    assert auth.jwks_hits == 2


async def test_keys_are_kept_when_a_refresh_fails(auth: FakeAuth, guard: Guard) -> None:
    """A failed key-set refresh keeps the keys already known in use."""
    auth.down = True
    assert await guard.refresh_keys() is False
    auth.down = False  # the feed still answers below; only the key-set fetch failed
    await guard.poll_revocations()
    assert (await guard.authenticate(bearer(auth.token()))).scopes == ("tme_user",)


async def test_keys_of_other_algorithms_in_the_set_are_ignored() -> None:
    """Only ES256 P-256 signing keys of a JWK set are taken; others are left out."""
    good = signing_keys.generate(now_ms()).public_jwk()
    rsa = {"kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB"}
    enc = {**good, "kid": "enc", "use": "enc"}
    assert list(parse_jwks({"keys": [good, rsa, enc, "junk", {"kid": 3}]})) == [good["kid"]]


async def test_guard_without_keys_answers_503(auth: FakeAuth) -> None:
    """When the key set was never fetched the guard fails closed with 503, not 401."""
    auth.down = True
    guard = make_guard(auth)
    await guard.start(background=False)
    try:
        with pytest.raises(GuardUnavailable):
            await guard.authenticate(bearer(auth.token()))
        assert guard.ready is False
    finally:
        await guard.stop()


# -- revocations ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ticket", "key", "account"])
async def test_revocations_from_the_feed_are_honoured_after_a_poll(
    auth: FakeAuth, guard: Guard, kind: str
) -> None:
    """A ticket, key or account revocation in the feed makes the token a 401 at the next poll."""
    ticket, key_id = secrets.token_hex(16), "0123456789abcdef"
    token = bearer(auth.token(ticket=ticket, client_id=key_id, subject="acc-7"))
    await guard.authenticate(token)
    entry = {
        "ticket": Revocation(RevocationKind.TICKET, ticket),
        "key": Revocation(RevocationKind.KEY, key_id),
        "account": Revocation(RevocationKind.ACCOUNT, "acc-7", int(time.time())),
    }[kind]
    auth.revocations.append(entry)
    await guard.authenticate(token)  # not polled yet
    assert await guard.poll_revocations() is True
    with pytest.raises(Unauthorized, match="revoked"):
        await guard.authenticate(token)


async def test_account_revocation_spares_later_tokens_and_the_excepted_ticket(
    auth: FakeAuth, guard: Guard
) -> None:
    """An account revocation leaves tokens issued after not_after, and except_ticket's, valid."""
    now = int(time.time())
    kept_ticket = secrets.token_hex(16)
    auth.revocations.append(Revocation(RevocationKind.ACCOUNT, "acc-1", now, kept_ticket))
    await guard.poll_revocations()
    with pytest.raises(Unauthorized):
        await guard.authenticate(bearer(auth.token(issued_at=now)))
    await guard.authenticate(bearer(auth.token(issued_at=now, ticket=kept_ticket)))
    await guard.authenticate(bearer(auth.token(issued_at=now + 1)))


async def test_stale_revocations_fail_closed_then_recover(
    auth: FakeAuth, guard: Guard, clock: FakeClock
) -> None:
    """With the feed down past max_staleness the guard answers 503, and 200 once it is back."""
    token = bearer(auth.token())
    auth.down = True
    clock.advance(guard.config.max_staleness - 0.1)
    assert await guard.poll_revocations() is False
    await guard.authenticate(token)  # still within the bound
    clock.advance(0.2)
    with pytest.raises(GuardUnavailable) as caught:
        await guard.authenticate(token)
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "2"
    assert guard.status()["ready"] is False
    auth.down = False
    assert await guard.poll_revocations() is True
    await guard.authenticate(token)


async def test_unreadable_feed_keeps_the_previous_list(
    auth: FakeAuth, guard: Guard, clock: FakeClock
) -> None:
    """A malformed feed answer is refused whole: the old list stays and keeps ageing."""
    ticket = secrets.token_hex(16)
    auth.revocations.append(Revocation(RevocationKind.TICKET, ticket))
    await guard.poll_revocations()
    before = guard.feed.fresh_at
    for body in (
        {"success": {"data": {"revocations": [{"kind": "nonsense", "subject": "x"}]}}},
        {"error": {"message": "storage unavailable"}},
        {"success": {"data": {"revocations": "all"}}},
    ):
        auth.feed_body = body
        clock.advance(1)
        assert await guard.poll_revocations() is False
    assert guard.feed.fresh_at == before
    with pytest.raises(Unauthorized, match="revoked"):
        await guard.authenticate(bearer(auth.token(ticket=ticket)))


async def test_slow_feed_counts_as_a_failed_poll() -> None:
    """A feed slower than request_timeout is abandoned at the timeout, not waited for."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={}, request=request)

    guard = Guard(
        GuardConfig(auth_url=AUTH_URL, request_timeout=0.1, poll_interval=0.1, max_staleness=1),
        transport=httpx.MockTransport(slow),
    )
    await guard.start(background=False)
    try:
        started = time.monotonic()
        assert await guard.poll_revocations() is False
        assert time.monotonic() - started < 2
    finally:
        await guard.stop()


async def test_background_polling_brings_revocations_in(auth: FakeAuth) -> None:
    """Started with background polling, the guard picks a new revocation up on its own."""
    guard = make_guard(auth, poll_interval=0.05, request_timeout=0.5, max_staleness=1.0)
    ticket = secrets.token_hex(16)
    token = bearer(auth.token(ticket=ticket))
    async with guard:
        await guard.authenticate(token)
        auth.revocations.append(Revocation(RevocationKind.TICKET, ticket))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                await guard.authenticate(token)
            except Unauthorized:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("revocation not picked up by background polling")
    assert guard.feed.polls >= 2


async def test_stopped_guard_stops_polling(auth: FakeAuth) -> None:
    """After stop no poll reaches the feed any more."""
    guard = make_guard(auth, poll_interval=0.05, request_timeout=0.5, max_staleness=1.0)
    async with guard:
        await asyncio.sleep(0.2)
    hits = auth.feed_hits
    await asyncio.sleep(0.2)
    assert auth.feed_hits == hits
    assert await guard.poll_revocations() is False


async def test_the_guard_refuses_a_token_without_scope(auth: FakeAuth, guard: Guard) -> None:
    """A correctly signed token carrying no scope is a 401, even where no scope is required."""
    token = bearer(auth.token(scopes=()))
    with pytest.raises(Unauthorized, match="no scope"):
        await guard.authenticate(token)
    with pytest.raises(Unauthorized, match="no scope"):
        await guard.authorize(token, [])
