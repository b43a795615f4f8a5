"""Tokens whose signature and claims have been verified already, until they expire.

Verifying an ES256 signature costs tens of microseconds; a client presents the same token
on every call for as long as it lives. The cache keeps the verified claims of recent
tokens, keyed by the SHA-256 digest of the token (the token itself is never held), so a
repeat presentation costs a digest and a dictionary lookup. What can change while a token
lives is never cached: revocation is checked on every request by the caller, and the
signing key must still be published (see :class:`~xpay_auth.security.tokens.TokenVerifier`).

Memory is bounded by ``max_entries``: when full, the oldest entry makes room (first in,
first out), so a flood of distinct valid tokens only churns the cache. An entry is dropped
at its token's ``exp``; after that the token goes through full verification again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xpay_auth.security.claims import AccessClaims

DEFAULT_MAX_ENTRIES = 10_000


def token_digest(token: str) -> bytes:
    """The cache key of ``token``: 32 bytes, whatever the token's length."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class CachedToken:
    claims: AccessClaims
    kid: str
    # The earliest second the token was acceptable (iat or nbf, less the leeway).
    valid_from: float


class VerifiedTokenCache:
    """A bounded map from token digest to verified claims, each held until its ``exp``."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self.max_entries = max_entries
        self._entries: dict[bytes, CachedToken] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> CachedToken | None:
        """The entry of a token still within its validity at ``now``, else None."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry.claims.expires_at:
            # Expired: verified afresh next time (which refuses it past the leeway).
            del self._entries[digest]
            return None
        if now < entry.valid_from:
            return None
        return entry

    def put(self, digest: bytes, entry: CachedToken) -> None:
        if self.max_entries == 0:
            return
        entries = self._entries
        if digest not in entries and len(entries) >= self.max_entries:
            # Dicts keep insertion order: the first key is the oldest entry.
            del entries[next(iter(entries))]
        entries[digest] = entry

    def clear(self) -> None:
        self._entries.clear()
