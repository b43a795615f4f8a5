"""What a guard needs to know: where xpay-auth is, what tokens to expect, how fresh to stay."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from pydantic import SecretStr

from xpay_auth.security.token_cache import DEFAULT_MAX_ENTRIES
from xpay_auth.security.tokens import DEFAULT_LEEWAY

ENV_PREFIX = "XPAY_GUARD_"
JWKS_PATH = "/.well-known/jwks.json"
REVOCATIONS_PATH = "/auth/revocations"
ENVIRONMENTS = frozenset({"development", "production"})


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Settings of a :class:`~xpay_auth.guard.Guard`; every duration is in seconds.

    The revocation bound follows from three of them. The guard asks for the revocation
    list every ``poll_interval`` seconds, each request bounded by ``request_timeout``,
    so while xpay-auth answers, a revocation reaches the guard within
    ``poll_interval + request_timeout`` (3 s by default). The guard never trusts a list
    fetched more than ``max_staleness`` seconds ago: past that it answers 503 until the
    feed answers again. ``max_staleness`` (5 s by default) is therefore the hard bound
    within which every revocation is honoured, whatever the network does.
    """

    auth_url: str
    # The guard's own service account (scope tme_verifier) and API key, for the feed.
    username: str | None = None
    secret_key: SecretStr | str | None = field(default=None, repr=False)  # kept as SecretStr
    # In production, auth_url must be https unless its host is loopback or listed here
    # (a host reached over a private network or an mTLS sidecar; docs/guard.md).
    env: str = "development"
    insecure_hosts: tuple[str, ...] = ()
    issuer: str = "xpay-auth"
    audience: str = "xpay-api"
    poll_interval: float = 2.0
    request_timeout: float = 1.0
    max_staleness: float = 5.0
    # The key set is re-read this often; a token naming an unknown kid re-reads it sooner.
    jwks_max_age: float = 300.0
    # At most one key-set fetch per this many seconds on unknown kids, so tokens with
    # made-up kids cannot turn into a request to xpay-auth each.
    kid_refetch_interval: float = 5.0
    leeway: int = DEFAULT_LEEWAY
    # Verified tokens kept, so that a repeat presentation skips the signature check; the
    # revocation list is still consulted on every request. 0 turns the cache off.
    token_cache_size: int = DEFAULT_MAX_ENTRIES

    def __post_init__(self) -> None:
        self._check_url()
        if isinstance(self.secret_key, str):
            object.__setattr__(self, "secret_key", SecretStr(self.secret_key))
        if (self.username is None) != (self.secret_key is None):
            raise ValueError("username and secret_key go together: give both or neither")
        for name in ("poll_interval", "request_timeout", "jwks_max_age", "kid_refetch_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.leeway < 0:
            raise ValueError("leeway must not be negative")
        if self.token_cache_size < 0:
            raise ValueError("token_cache_size must not be negative")
        if self.max_staleness < self.poll_interval + self.request_timeout:
            # Otherwise one slow but successful poll would already make the guard refuse.
            raise ValueError(
                "max_staleness must be at least poll_interval + request_timeout "
                f"({self.poll_interval + self.request_timeout:g} s)"
            )

    def _check_url(self) -> None:
        parts = urlsplit(self.auth_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"auth_url must be an http(s) URL, not {self.auth_url!r}")
        if parts.query or parts.fragment:
            raise ValueError("auth_url must not carry a query or fragment")
        if self.env not in ENVIRONMENTS:
            raise ValueError(f"env must be development or production, not {self.env!r}")
        self._check_transport(parts.scheme, parts.hostname or "")

    def _check_transport(self, scheme: str, host: str) -> None:
        # Keys and revocations decide which tokens pass: fetched over plain HTTP, anyone on
        # the path could serve their own.
        if self.env != "production" or scheme == "https" or is_loopback(host):
            return
        if host.lower() in {allowed.lower() for allowed in self.insecure_hosts}:
            return
        raise ValueError(
            f"auth_url {self.auth_url!r} is plain http in production: use https, or, when "
            f"{host} is reached over a private network or an mTLS sidecar, list it in "
            f"{ENV_PREFIX}INSECURE_HOSTS"
        )

    @property
    def credentials(self) -> tuple[str, SecretStr] | None:
        if self.username is None or not isinstance(self.secret_key, SecretStr):
            return None
        return self.username, self.secret_key

    @property
    def base_url(self) -> str:
        return self.auth_url.rstrip("/")

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def revocations_url(self) -> str:
        return self.base_url + REVOCATIONS_PATH

    @property
    def revocation_delay(self) -> float:
        """How long a revocation takes to reach the guard while xpay-auth answers."""
        return self.poll_interval + self.request_timeout

    @property
    def revocation_bound(self) -> float:
        """The most a revocation can take to be honoured, the feed reachable or not."""
        return self.max_staleness

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX
    ) -> GuardConfig:
        """Read ``XPAY_GUARD_AUTH_URL`` (required) and the other fields, upper-cased."""
        source = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = source.get(prefix + item.name.upper())
            if raw is None:
                continue
            if item.name in {"auth_url", "issuer", "audience", "username", "env"}:
                values[item.name] = raw
            elif item.name == "secret_key":
                values[item.name] = SecretStr(raw)
            elif item.name == "insecure_hosts":
                values[item.name] = tuple(part.strip() for part in raw.split(",") if part.strip())
            elif item.name in {"leeway", "token_cache_size"}:
                values[item.name] = int(raw)
            else:
                values[item.name] = float(raw)
        if "auth_url" not in values:
            raise ValueError(f"{prefix}AUTH_URL is not set: give the base URL of xpay-auth")
        if "username" not in values or "secret_key" not in values:
            raise ValueError(
                f"{prefix}USERNAME and {prefix}SECRET_KEY must be set: the revocation feed "
                "takes the guard's own account (scope tme_verifier) and API key, made with "
                "xpay-auth users create / keys create (docs/guard.md)"
            )
        return cls(**values)  # type: ignore[arg-type]
