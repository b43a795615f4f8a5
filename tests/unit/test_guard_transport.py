"""What the guard trusts: where it fetches keys and revocations from, and which keys it takes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.guard_fakes import FakeAuth, bearer, make_guard
from xpay_auth.errors import Unauthorized
from xpay_auth.guard import GuardConfig
from xpay_auth.guard._keys import parse_jwks
from xpay_auth.logs import now_ms
from xpay_auth.security import signing_keys


def production(url: str, *, insecure_hosts: tuple[str, ...] = ()) -> GuardConfig:
    return GuardConfig(
        auth_url=url,
        env="production",
        username="guard",
        secret_key="xpsk_x",
        insecure_hosts=insecure_hosts,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://xpay-auth:8000",
        "http://10.0.0.5",
        "http://auth.example.com/xpay",
        "http://[2001:db8::1]",
    ],
)
def test_production_refuses_a_plain_http_auth_url(url: str) -> None:
    """In production, keys and revocations over plain http from a remote host are refused."""
    with pytest.raises(ValueError, match="plain http in production") as caught:
        production(url)
    assert "XPAY_GUARD_INSECURE_HOSTS" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://xpay-auth.internal",
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://localhost:8000",
        "http://[::1]:8000",
    ],
)
def test_production_accepts_https_and_loopback(url: str) -> None:
    """https anywhere, and plain http to this machine only, pass in production."""
    assert production(url).env == "production"


def test_production_accepts_plain_http_to_a_host_listed_as_insecure() -> None:
    """A host the operator lists (a private network, an mTLS sidecar) may be plain http."""
    config = production("http://Xpay-Auth:8000", insecure_hosts=("xpay-auth",))
    assert config.insecure_hosts == ("xpay-auth",)
    with pytest.raises(ValueError, match="plain http"):
        production("http://other:8000", insecure_hosts=("xpay-auth",))


def test_production_is_read_from_the_environment() -> None:
    """XPAY_GUARD_ENV=production applies the rule to from_environ too; development does not."""
    environ = {
        "XPAY_GUARD_AUTH_URL": "http://xpay-auth:8000",
        "XPAY_GUARD_USERNAME": "guard",
        "XPAY_GUARD_SECRET_KEY": "xpsk_x",
    }
    assert GuardConfig.from_environ(environ).env == "development"
    with pytest.raises(ValueError, match="plain http"):
        GuardConfig.from_environ({**environ, "XPAY_GUARD_ENV": "production"})
    allowed = {**environ, "XPAY_GUARD_ENV": "production", "XPAY_GUARD_INSECURE_HOSTS": "xpay-auth"}
    assert GuardConfig.from_environ(allowed).insecure_hosts == ("xpay-auth",)
    with pytest.raises(ValueError, match="development or production"):
        GuardConfig.from_environ({**environ, "XPAY_GUARD_ENV": "prod"})


def _jwk(**changes: Any) -> dict[str, Any]:
    jwk = signing_keys.generate(now_ms()).public_jwk()
    jwk.update(changes)
    return {name: value for name, value in jwk.items() if value is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"alg": None},
        {"alg": "ES384"},
        {"alg": "none"},
        {"alg": "HS256"},
        {"crv": "P-384"},
        {"crv": None},
        {"kty": "OKP"},
        {"use": "enc"},
    ],
)
def test_the_guard_takes_only_keys_that_say_es256_ec_p256(changes: dict[str, Any]) -> None:
    """A JWK without alg, or naming another alg, kty, crv or use, is left out of the set."""
    good = _jwk()
    assert list(parse_jwks({"keys": [good, _jwk(**changes)]})) == [good["kid"]]


@pytest.mark.anyio
async def test_a_token_signed_by_a_key_published_without_alg_is_refused() -> None:
    """A key set whose key lacks alg gives the guard no key: its tokens are 401, not accepted."""
    auth = FakeAuth()
    jwk = auth.keys[0].public_jwk()
    del jwk["alg"]
    original = auth.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json={"keys": [jwk]})
        return original(request)

    auth.handler = handler  # type: ignore[method-assign]
    guard = make_guard(auth)
    await guard.start(background=False)
    try:
        with pytest.raises(Unauthorized, match="unknown kid"):
            await guard.authenticate(bearer(auth.token()))
    finally:
        await guard.stop()
