"""The published signing keys (RFC 7517 JWK set), fetched and cached in memory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from xpay_auth.logs import log_event
from xpay_auth.security.signing_keys import ALGORITHM, SigningKeyError, public_key_from_jwk

FetchJson = Callable[[str], Awaitable[Any]]


class FeedError(Exception):
    """xpay-auth did not answer, or answered something the guard cannot use."""


def parse_jwks(document: Any) -> dict[str, ec.EllipticCurvePublicKey]:
    """The ES256 keys of a JWK set by ``kid``; every other key is left out.

    RFC 8725 section 3.1: only keys of the pinned algorithm are ever used, whatever else
    the set holds. A key is taken only when it says so itself: ``alg`` ES256, ``kty`` EC and
    ``crv`` P-256 (the service publishes all three), and ``use``, if present, ``sig``.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FeedError("key set is not a JWK set")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if jwk.get("alg") != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[kid] = public_key_from_jwk(jwk)
        except (SigningKeyError, ValueError, KeyError, TypeError):
            log_event("guard.key_skipped", level=logging.WARNING, kid=kid[:64])
    return keys


class KeySet:
    """Public keys by ``kid``; :meth:`public_key` is what the token verifier asks."""

    def __init__(
        self,
        fetch_json: FetchJson,
        url: str,
        *,
        refetch_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._fetch_json = fetch_json
        self._url = url
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._loaded_at: float | None = None
        self._last_refetch: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def age(self) -> float | None:
        return None if self._loaded_at is None else self._clock() - self._loaded_at

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the set now; on failure the keys already held stay in use.

        Keeping them is safe: a key leaves the set only after every token it signed has
        expired, and expiry is checked on every token anyway.
        """
        self.fetches += 1
        keys = parse_jwks(await self._fetch_json(self._url))
        if set(keys) != set(self._keys):
            log_event("guard.keys_loaded", kids=sorted(keys))
        self._keys = keys
        self._loaded_at = self._clock()

    async def refetch_for(self, kid: str) -> bool:
        """Fetch again for a token naming ``kid``, at most once per interval.

        Returns whether ``kid`` is known afterwards. Concurrent callers wait for one fetch.
        """
        async with self._lock:
            if kid in self._keys:
                return True
            now = self._clock()
            if self._last_refetch is not None and now - self._last_refetch < self._refetch_interval:
                return False
            self._last_refetch = now
            try:
                await self.refresh()
            except FeedError as exc:
                log_event("guard.keys_failed", level=logging.WARNING, reason=str(exc)[:200])
                return False
            return kid in self._keys
