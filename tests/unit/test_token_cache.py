"""The verified-token cache: a repeat token skips the signature, never the other checks."""

from __future__ import annotations

import secrets
import sys
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest

from tests.envelopes import failure, revoke_key, success
from tests.support import Harness
from tests.unit.guard_fakes import FakeAuth, bearer, make_guard
from xpay_auth.errors import Unauthorized
from xpay_auth.security import signing_keys
from xpay_auth.security.revocation import Revocation, RevocationKind
from xpay_auth.security.token_cache import VerifiedTokenCache, token_digest
from xpay_auth.security.tokens import (
    DEFAULT_LEEWAY,
    InvalidToken,
    TokenIssuer,
    TokenVerifier,
    UnknownKey,
)

if TYPE_CHECKING:
    from xpay_auth.security.signing_keys import SigningKey

ISSUER = "xpay-auth"
AUDIENCE = "xpay-api"


class Keys:
    def __init__(self) -> None:
        self.current = signing_keys.generate(0)
        self.known: dict[str, SigningKey] = {self.current.kid: self.current}

    def verifier(
        self, cache: VerifiedTokenCache | None, leeway: int = DEFAULT_LEEWAY
    ) -> TokenVerifier:
        def lookup(kid: str) -> Any:
            key = self.known.get(kid)
            return key.public_key if key else None

        return TokenVerifier(lookup, ISSUER, AUDIENCE, leeway, cache=cache)

    def token(self, *, issued_at: int | None = None, lifetime: int = 600) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        return TokenIssuer(lambda: self.current, ISSUER, AUDIENCE).issue(
            subject="acc_0011223344556677",
            username="alice@example.com",
            scopes=("tme_user",),
            ticket=secrets.token_hex(16),
            client_id="00112233aabbccdd",
            issued_at=now,
            expires_at=now + lifetime,
        )


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature check the verifier makes, by token."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def test_repeat_presentation_skips_the_signature_check(keys: Keys, decodes: list[str]) -> None:
    """The second verification of a token is answered from the cache, with the same claims."""
    verifier = keys.verifier(VerifiedTokenCache(10))
    token = keys.token()
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert second == first
    assert decodes == [token]


def test_without_a_cache_every_presentation_is_verified(keys: Keys, decodes: list[str]) -> None:
    """A verifier built without a cache (or with size 0) checks the signature every time."""
    for verifier in (keys.verifier(None), keys.verifier(VerifiedTokenCache(0))):
        token = keys.token()
        verifier.verify(token)
        verifier.verify(token)
        assert decodes.count(token) == 2


def test_expired_cached_token_is_refused(keys: Keys) -> None:
    """A cached token is refused once its exp passes: the cache never outlives the token."""
    cache = VerifiedTokenCache(10)
    verifier = keys.verifier(cache, leeway=0)
    now = int(time.time())
    token = keys.token(issued_at=now - 59, lifetime=60)  # exp is the next second
    verifier.verify(token)
    assert len(cache) == 1
    time.sleep(max(0.0, now + 1.05 - time.time()))
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)
    assert len(cache) == 0


def test_cached_token_is_not_accepted_before_its_issue_time(keys: Keys) -> None:
    """A clock moved back before iat (less the leeway) refuses the token, cached or not."""
    verifier = keys.verifier(VerifiedTokenCache(10))
    now = int(time.time())
    token = keys.token(issued_at=now)
    verifier.verify(token, now=now)
    with pytest.raises(InvalidToken, match="future"):
        verifier.verify(token, now=now - DEFAULT_LEEWAY - 5)


def test_cached_token_of_a_withdrawn_key_is_refused(keys: Keys) -> None:
    """When its signing key leaves the key set, a cached token is refused like any other."""
    verifier = keys.verifier(VerifiedTokenCache(10))
    token = keys.token()
    verifier.verify(token)
    keys.known.clear()
    with pytest.raises(UnknownKey):
        verifier.verify(token)


def test_cache_never_holds_more_than_its_bound(keys: Keys) -> None:
    """Past max_entries the oldest entries make room: the count, and so the memory, is bounded."""
    cache = VerifiedTokenCache(100)
    verifier = keys.verifier(cache)
    presented = [keys.token() for _ in range(250)]
    for token in presented:
        verifier.verify(token)
    assert len(cache) == 100
    assert cache.get(token_digest(presented[0]), time.time()) is None
    assert cache.get(token_digest(presented[-1]), time.time()) is not None
    # Keys are 32-byte digests: the cache holds no token text.
    entries = cache._entries
    assert {len(key) for key in entries} == {32}
    per_entry = sum(sys.getsizeof(entry.claims) for entry in entries.values()) / len(cache)
    assert per_entry < 1024


def test_garbage_presented_many_times_never_enters_the_cache(keys: Keys) -> None:
    """Only verified tokens are cached: a forged one is refused every time and stored never."""
    cache = VerifiedTokenCache(10)
    verifier = keys.verifier(cache)
    header, payload, _ = keys.token().split(".")
    forged = f"{header}.{payload}.{'A' * 86}"
    for _ in range(3):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
    assert len(cache) == 0


# -- the guard ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_guard_refuses_a_revoked_token_even_when_cached() -> None:
    """A token the guard has cached is a 401 as soon as its revocation is polled."""
    auth = FakeAuth()
    guard = make_guard(auth, token_cache_size=5)
    await guard.start(background=False)
    try:
        ticket = secrets.token_hex(16)
        token = bearer(auth.token(ticket=ticket))
        await guard.authenticate(token)
        await guard.authenticate(token)
        assert guard._verifier.cache is not None
        assert len(guard._verifier.cache) == 1
        auth.revocations.append(Revocation(RevocationKind.TICKET, ticket))
        assert await guard.poll_revocations() is True
        with pytest.raises(Unauthorized, match="revoked"):
            await guard.authenticate(token)
    finally:
        await guard.stop()


# -- the service ----------------------------------------------------------------------------


def test_service_refuses_revoked_tokens_even_when_cached(harness: Harness) -> None:
    """A token already checked is a 401 right after its logout or its key's revocation."""
    harness.create_user("cached@example.com")
    key_id, secret = harness.create_key("cached@example.com")
    for end in ("logout", "key"):
        token = harness.token_for_key("cached@example.com", secret)
        for _ in range(2):
            success(harness.post("/client/session", token=token))
        assert len(harness.runtime.verifier.cache or ()) >= 1
        if end == "logout":
            success(harness.post("/client/logout", token=token))
        else:
            revoke_key(harness, key_id)
        response = harness.post("/client/session", token=token)
        assert response.status_code == 401
        failure(response, 401)


@pytest.mark.parametrize("cached", [False, True])
def test_the_clock_given_to_verify_governs_expiry_too(keys: Keys, *, cached: bool) -> None:
    """``verify(now=...)`` judges ``exp`` by the same clock as ``iat`` and ``nbf``."""
    verifier = keys.verifier(VerifiedTokenCache(10) if cached else None)
    then = int(time.time()) - 7200
    old = keys.token(issued_at=then, lifetime=600)
    assert verifier.verify(old, now=then + 60).issued_at == then
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(old, now=then + 600 + DEFAULT_LEEWAY)
    fresh = keys.token(lifetime=600)
    later = time.time() + 600 + DEFAULT_LEEWAY + 1
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(fresh, now=later)
