"""The guard: verifies bearer tokens locally, with the service's own checks.

Signature, header and claims go through :class:`~xpay_auth.security.tokens.TokenVerifier`
against the published key set; revocations through
:class:`~xpay_auth.security.revocation.RevocationSet`, filled from the polled feed. Nothing
on the request path calls xpay-auth, except one bounded key-set fetch for an unknown kid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, Self

import httpx

from xpay_auth.client import AuthenticationError, XPayAuth
from xpay_auth.errors import Forbidden, Unauthorized, XpayAuthError
from xpay_auth.guard._config import GuardConfig
from xpay_auth.guard._feed import RevocationFeed
from xpay_auth.guard._keys import FeedError, KeySet
from xpay_auth.logs import log_event
from xpay_auth.security.bearer import bearer_token
from xpay_auth.security.claims import AccessClaims
from xpay_auth.security.token_cache import VerifiedTokenCache
from xpay_auth.security.tokens import InvalidToken, TokenVerifier, UnknownKey


class GuardUnavailable(XpayAuthError):
    """503: the guard cannot vouch that a token is not revoked, so it refuses (fails closed)."""

    status = 503
    message = "authorization unavailable"


def check_scopes(claims: AccessClaims, scopes: Iterable[str]) -> AccessClaims:
    """``claims`` when they carry every scope in ``scopes``; 403 otherwise."""
    missing = [scope for scope in scopes if scope not in claims.scopes]
    if missing:
        required = " ".join(missing)
        raise Forbidden(required=required, detail=f"token lacks {required}")
    return claims


class Guard:
    """Verifies bearer tokens for one service; start it before use (see :meth:`lifespan`)."""

    def __init__(
        self,
        config: GuardConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_failing = False
        self._closed_logged = False
        self.keys = KeySet(
            self._fetch_json,
            config.jwks_url,
            refetch_interval=config.kid_refetch_interval,
            clock=clock,
        )
        credentials = config.credentials
        # The guard's own login for the feed, renewed by the client before it expires.
        self._auth = XPayAuth(config.base_url, *credentials) if credentials else None
        self.feed = RevocationFeed(self._fetch_feed, clock=clock)
        self._verifier = TokenVerifier(
            self.keys.public_key,
            config.issuer,
            config.audience,
            config.leeway,
            cache=VerifiedTokenCache(config.token_cache_size),
        )

    # -- verification, on the request path -------------------------------------------

    async def authenticate(self, authorization: str | None) -> AccessClaims:
        """The claims of a valid, unrevoked bearer token; 401, or 503 when unsure."""
        token = bearer_token(authorization)
        if not self.keys.loaded:
            raise GuardUnavailable(detail="the key set has never been fetched")
        try:
            try:
                claims = self._verifier.verify(token)
            except UnknownKey:
                # A rotation publishes a new kid; fetch once, bounded, then decide.
                if not await self.keys.refetch_for(self._verifier.header_kid(token)):
                    raise
                claims = self._verifier.verify(token)
        except InvalidToken as exc:
            raise Unauthorized(detail=str(exc)) from exc
        self._check_revocations(claims)
        return claims

    async def authorize(
        self, authorization: str | None, scopes: Iterable[str] = ()
    ) -> AccessClaims:
        """As :meth:`authenticate`, and 403 unless the token carries every scope."""
        return check_scopes(await self.authenticate(authorization), scopes)

    def _check_revocations(self, claims: AccessClaims) -> None:
        age = self.feed.age()
        if age is None or age > self.config.max_staleness:
            # Fail closed: a list this old could miss a revocation older than the bound.
            raise GuardUnavailable(
                detail="revocation list is stale" if age is not None else "no revocation list yet",
                headers={"Retry-After": str(math.ceil(self.config.poll_interval))},
            )
        if self.feed.revocations.is_revoked(claims):
            raise Unauthorized(detail="token revoked")

    @property
    def ready(self) -> bool:
        """Whether the guard can accept tokens now (keys known, revocations fresh)."""
        age = self.feed.age()
        return self.keys.loaded and age is not None and age <= self.config.max_staleness

    def status(self) -> dict[str, Any]:
        """Facts for a health endpoint; no token or secret among them."""
        age = self.feed.age()
        return {
            "ready": self.ready,
            "keys": len(self.keys.kids),
            "revocations": self.feed.entries,
            "revocationsAgeSeconds": None if age is None else round(age, 3),
            "maxStalenessSeconds": self.config.max_staleness,
        }

    # -- fetching -------------------------------------------------------------------------

    async def _fetch_json(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> Any:
        client = self._client
        if client is None:
            raise FeedError("the guard is not started")
        try:
            # A total bound, not httpx's per-phase one: a slow trickle must not stretch a poll.
            async with asyncio.timeout(self.config.request_timeout):
                response = await client.get(
                    url, params=params, auth=auth, headers={"Accept": "application/json"}
                )
        except AuthenticationError as exc:
            raise FeedError(f"{url}: the guard's login was refused: {exc}") from exc
        except (httpx.HTTPError, TimeoutError) as exc:
            raise FeedError(f"{url}: {type(exc).__name__}") from exc
        if response.status_code == 401 and self._auth is None:  # noqa: PLR2004
            raise FeedError(f"{url}: HTTP 401: set the guard's username and secret_key")
        if response.status_code != 200:  # noqa: PLR2004
            raise FeedError(f"{url}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise FeedError(f"{url}: not JSON") from exc

    async def _fetch_feed(self, params: dict[str, str]) -> Any:
        return await self._fetch_json(self.config.revocations_url, params=params, auth=self._auth)

    async def poll_revocations(self) -> bool:
        """Fetch the revocation list once; whether it succeeded. Failures are logged once."""
        try:
            await self.feed.poll()
        except FeedError as exc:
            if not self._feed_failing:
                self._feed_failing = True
                log_event("guard.feed_failed", level=logging.WARNING, reason=str(exc)[:200])
            age = self.feed.age()
            if not self._closed_logged and (age is None or age > self.config.max_staleness):
                self._closed_logged = True
                log_event(
                    "guard.failing_closed",
                    level=logging.ERROR,
                    max_staleness=self.config.max_staleness,
                )
            return False
        if self._feed_failing:
            log_event("guard.feed_recovered", entries=self.feed.entries)
        self._feed_failing = self._closed_logged = False
        return True

    async def refresh_keys(self) -> bool:
        """Fetch the key set once; whether it succeeded (the old keys stay on failure)."""
        try:
            await self.keys.refresh()
        except FeedError as exc:
            log_event("guard.keys_failed", level=logging.WARNING, reason=str(exc)[:200])
            return False
        return True

    async def _revocation_loop(self) -> None:
        # Polls start on a fixed schedule, not a fixed pause after each: the list is then
        # never older than poll_interval + request_timeout while the feed answers.
        next_start = self._clock() + self.config.poll_interval
        while True:
            await asyncio.sleep(max(0.0, next_start - self._clock()))
            await self.poll_revocations()
            next_start = max(next_start + self.config.poll_interval, self._clock())

    async def _keys_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.jwks_max_age)
            await self.refresh_keys()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Open the HTTP client, fetch keys and revocations once, then poll in the background.

        A first fetch that fails does not raise: the guard answers 503 until xpay-auth
        answers, so a service can start before xpay-auth does.
        """
        if self._client is not None:
            raise RuntimeError("the guard is already started")
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=self.config.request_timeout, follow_redirects=False
        )
        await asyncio.gather(self.refresh_keys(), self.poll_revocations())
        if background:
            self._tasks = [
                asyncio.create_task(self._revocation_loop(), name="xpay-guard-revocations"),
                asyncio.create_task(self._keys_loop(), name="xpay-guard-keys"),
            ]
        log_event("guard.started", ready=self.ready, auth_url=self.config.base_url)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """A Starlette/FastAPI ``lifespan``: ``FastAPI(lifespan=guard.lifespan)``."""
        async with self:
            yield
