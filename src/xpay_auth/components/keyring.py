"""The signing keyring: which key signs now, which public keys are published.

Keys live in the database so that every worker and node signs with the same key and a
restart keeps old tokens valid. Each process holds the keyring in memory and re-reads it
every ``signing_key_refresh`` seconds, and at once when a token names an unknown ``kid``.
"""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric import ec

from xpay_auth.logs import log_event, now_ms
from xpay_auth.security import signing_keys
from xpay_auth.security.signing_keys import KeyWrapper, SigningKey, SigningKeyError
from xpay_auth.storage.signing_keys import SigningKeyRepository, StoredSigningKey

# An unknown kid triggers at most one reload per this many seconds, so forged kids cannot
# turn into a database query each.
_RELOAD_ON_MISS_INTERVAL = 1.0


class Keyring:
    def __init__(
        self, repository: SigningKeyRepository, wrapper: KeyWrapper, refresh_seconds: float
    ) -> None:
        self._repository = repository
        self._wrapper = wrapper
        self._refresh_seconds = refresh_seconds
        self._current: SigningKey | None = None
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}
        self._jwks = b'{"keys":[]}'
        self._loaded_at = 0.0
        self._last_miss_reload = 0.0

    def _store(self, key: SigningKey) -> StoredSigningKey:
        return StoredSigningKey(
            kid=key.kid,
            algorithm=signing_keys.ALGORITHM,
            public_jwk=json.dumps(key.public_jwk()),
            private_key=self._wrapper.seal(key),
            created_at_ms=key.created_at,
            retired_at_ms=None,
            publish_until_ms=None,
        )

    async def ensure_current(self) -> str | None:
        """Create the first signing key if there is none (concurrent starts agree).

        Returns the new key's ``kid`` when this call created it, else None.
        """
        key = signing_keys.generate(now_ms())
        created = await self._repository.insert_if_none_current(self._store(key))
        await self.load()
        return key.kid if created else None

    async def rotate(self, publish_for_ms: int) -> tuple[str, list[str]]:
        """Sign with a new key from now on; older keys stay published ``publish_for_ms``."""
        now = now_ms()
        new = signing_keys.generate(now)
        retired = await self._repository.replace_current(
            self._store(new), now_ms=now, publish_until_ms=now + publish_for_ms
        )
        await self._repository.delete_unpublished(now)
        log_event("signing_key.rotated", kid=new.kid, retired=retired)
        await self.load()
        return new.kid, retired

    async def load(self) -> None:
        now = now_ms()
        current: SigningKey | None = None
        public: dict[str, ec.EllipticCurvePublicKey] = {}
        jwks = []
        for stored in await self._repository.all():
            if stored.publish_until_ms is not None and stored.publish_until_ms <= now:
                continue
            jwk = json.loads(stored.public_jwk)
            public[stored.kid] = signing_keys.public_key_from_jwk(jwk)
            jwks.append(jwk)
            if stored.retired_at_ms is None:
                private_key = self._wrapper.open(stored.kid, stored.private_key)
                current = SigningKey(
                    stored.kid, private_key.public_key(), private_key, stored.created_at_ms
                )
        if current is None:
            raise SigningKeyError(
                "no current signing key: run `xpay-auth db upgrade` and start the server"
            )
        self._current, self._public = current, public
        self._jwks = json.dumps({"keys": jwks}, separators=(",", ":")).encode()
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at >= self._refresh_seconds:
            await self.load()

    async def reload_on_unknown_kid(self) -> bool:
        """Reload once per interval at most; True when a reload happened."""
        now = time.monotonic()
        if now - self._last_miss_reload < _RELOAD_ON_MISS_INTERVAL:
            return False
        self._last_miss_reload = now
        await self.load()
        return True

    def current(self) -> SigningKey:
        if self._current is None:
            raise SigningKeyError("keyring not loaded")
        return self._current

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self._public.get(kid)

    @property
    def jwks(self) -> bytes:
        return self._jwks
