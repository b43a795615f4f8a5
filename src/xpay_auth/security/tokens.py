"""Access tokens: JWTs in the shape of RFC 9068, issued and verified by the book (RFC 8725).

The same :class:`TokenVerifier` runs in this service and in ``xpay_auth.guard``, so every
place that trusts a token applies the same checks.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from xpay_auth import randomness
from xpay_auth.security.claims import AccessClaims
from xpay_auth.security.jws import header_segment, sign_es256
from xpay_auth.security.signing_keys import ALGORITHM, SigningKey, SigningKeyError
from xpay_auth.security.token_cache import CachedToken, VerifiedTokenCache, token_digest

TOKEN_TYPE = "at+jwt"  # noqa: S105  a media type, not a password  # RFC 9068 section 2.1
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# RFC 8725 section 3.1: the algorithm list is pinned, never taken from the token.
ALLOWED_ALGORITHMS = (ALGORITHM,)
# Headers that would let a token name its own key or demand unknown processing.
_FORBIDDEN_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c"})
_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "sid")
DEFAULT_LEEWAY = 10
MAX_TOKEN_LENGTH = 8192
_TICKET = re.compile(r"[0-9a-f]{32}")


class InvalidToken(Exception):
    """The token must not be trusted; the message says why (for logs, not clients)."""


class UnknownKey(InvalidToken):
    """The token names a key id this verifier does not know (yet)."""


@functools.lru_cache(maxsize=256)
def _checked_kid(header_segment: str) -> str:
    """The key id of an encoded protected header, after the RFC 8725 header checks.

    Every token of one signing key carries the same header segment, so its checks run once
    per key instead of once per token: PyJWT's parse validates the base64url alphabet one
    character at a time, tens of microseconds over a whole token. ``jwt.decode`` still parses
    and checks the full token, header included; a header that fails raises, and is not kept.
    """
    try:
        header = jwt.get_unverified_header(f"{header_segment}..")
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed header: {exc}") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidToken(f"algorithm {str(header.get('alg'))[:20]!r} is not allowed")
    if str(header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("typ is not at+jwt")
    forbidden = _FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise InvalidToken(f"forbidden header {sorted(forbidden)}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("no kid")
    return kid


class TokenIssuer:
    def __init__(self, current_key: Callable[[], SigningKey], issuer: str, audience: str) -> None:
        self._current_key = current_key
        self._issuer = issuer
        self._audience = audience

    def issue(
        self,
        *,
        subject: str,
        username: str,
        scopes: tuple[str, ...],
        ticket: str,
        client_id: str,
        issued_at: int,
        expires_at: int,
    ) -> str:
        key = self._current_key()
        payload = {
            "iss": self._issuer,
            "sub": subject,
            "aud": self._audience,
            "exp": expires_at,
            "iat": issued_at,
            "jti": randomness.token_hex(16),
            "client_id": client_id,
            "scope": " ".join(scopes),
            "sid": ticket,
            "username": username,
        }
        if key.private_key is None:
            raise SigningKeyError(f"signing key {key.kid} has no private part")
        return sign_es256(header_segment(TOKEN_TYPE, key.kid), payload, key.private_key)


class TokenVerifier:
    """Checks signature, header, and every claim; raises :class:`InvalidToken`.

    With a ``cache``, a token verified before is answered from it while it lives and its
    signing key is still published; revocation is the caller's check, on every request.
    """

    def __init__(
        self,
        public_key: Callable[[str], ec.EllipticCurvePublicKey | None],
        issuer: str,
        audience: str,
        leeway: int = DEFAULT_LEEWAY,
        *,
        cache: VerifiedTokenCache | None = None,
    ) -> None:
        self._public_key = public_key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self.cache = cache

    def header_kid(self, token: str) -> str:
        """The ``kid`` of a well-formed header that passes the RFC 8725 checks."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:  # noqa: PLR2004
            raise InvalidToken("not a compact JWS")
        return _checked_kid(token[: token.index(".")])

    def verify(self, token: str, *, now: float | None = None) -> AccessClaims:
        """The token's claims; ``now`` (seconds, default the system clock) is the one clock
        that ``exp``, ``nbf`` and ``iat`` are all judged by."""
        now = time.time() if now is None else now
        cache = self.cache
        if cache is None or not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return self._verify(token, now)[0]
        digest = token_digest(token)
        hit = cache.get(digest, now)
        # A key withdrawn from the key set takes its tokens with it, cached or not.
        if hit is not None and self._public_key(hit.kid) is not None:
            return hit.claims
        claims, kid, valid_from = self._verify(token, now)
        cache.put(digest, CachedToken(claims, kid, valid_from))
        return claims

    def _verify(self, token: str, now: float) -> tuple[AccessClaims, str, float]:
        """The claims, the key id and the first second the token was acceptable."""
        kid = self.header_kid(token)
        key = self._public_key(kid)
        if key is None:
            raise UnknownKey(f"unknown kid {kid[:64]!r}")
        try:
            payload: Mapping[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                # Every time claim is checked below against the one clock of the call,
                # ``now``, so that exp cannot be judged by another clock than iat and nbf.
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        claims = self._claims(payload, now)
        nbf = payload.get("nbf")
        valid_from = max(claims.issued_at, nbf if isinstance(nbf, int) else 0) - self._leeway
        return claims, kid, valid_from

    def _claims(self, payload: Mapping[str, Any], now: float) -> AccessClaims:
        issued_at, expires_at = payload["iat"], payload["exp"]
        if not isinstance(issued_at, int) or not isinstance(expires_at, int):
            raise InvalidToken("iat and exp must be integers")
        if expires_at <= now - self._leeway:
            raise InvalidToken("expired")
        if issued_at > now + self._leeway:
            raise InvalidToken("issued in the future")
        nbf = payload.get("nbf")
        if nbf is not None and (not isinstance(nbf, int) or nbf > now + self._leeway):
            raise InvalidToken("not yet valid")
        texts = {name: payload[name] for name in ("sub", "jti", "client_id", "scope", "sid")}
        if not all(isinstance(value, str) for value in texts.values()):
            raise InvalidToken("a claim has the wrong type")
        if not _TICKET.fullmatch(texts["sid"]):
            raise InvalidToken("sid is not a ticket")
        scopes = tuple(texts["scope"].split())
        if not scopes:
            # A token without scope would pass every check that names no scope (a gateway's
            # bare forward-auth, a guard's default); this service never issues one.
            raise InvalidToken("the token carries no scope")
        username = payload.get("username", "")
        return AccessClaims(
            subject=texts["sub"],
            username=username if isinstance(username, str) else "",
            scopes=scopes,
            ticket=texts["sid"],
            client_id=texts["client_id"],
            token_id=texts["jti"],
            issued_at=issued_at,
            expires_at=expires_at,
        )
