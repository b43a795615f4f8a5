"""API secret keys: format, generation, parsing and keyed hashing.

A secret looks like ``xpsk_3f9a0c1d2b4e5f60_<43 random base62><6 checksum>``:

- ``xpsk_`` makes leaked keys easy for secret scanners to find;
- the 16 hex characters are the key's public id, so a check is one indexed read;
- 43 base62 characters carry 256 bits from the operating system's CSPRNG;
- the last 6 characters are the CRC-32 of everything before them, so a mistyped or
  truncated key is refused before any lookup.

Only ``HMAC-SHA-256(server subkey, secret)`` is stored. A keyed hash suits random secrets of
this strength (nothing to brute-force), costs microseconds, and is useless without the
server secret; argon2 would only slow every API call down.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "xpsk_"
ID_HEX_CHARS = 16
RANDOM_CHARS = 43
CHECKSUM_CHARS = 6
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHAPE = re.compile(
    rf"{PREFIX}(?P<id>[0-9a-f]{{{ID_HEX_CHARS}}})_"
    rf"(?P<random>[0-9A-Za-z]{{{RANDOM_CHARS}}})(?P<crc>[0-9A-Za-z]{{{CHECKSUM_CHARS}}})"
)
MAX_SECRET_LENGTH = len(PREFIX) + ID_HEX_CHARS + 1 + RANDOM_CHARS + CHECKSUM_CHARS


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    secret: str


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def new_key_id() -> str:
    return secrets.token_hex(ID_HEX_CHARS // 2)


def generate(key_id: str | None = None) -> ParsedKey:
    """A new secret; pass ``key_id`` to give an existing key a new secret (rotation)."""
    key_id = key_id or new_key_id()
    body = f"{PREFIX}{key_id}_" + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_CHARS))
    return ParsedKey(key_id=key_id, secret=body + _checksum(body))


def display_prefix(key_id: str) -> str:
    """The part of a secret that may be shown in listings and logs."""
    return f"{PREFIX}{key_id}"


def parse(candidate: str) -> ParsedKey | None:
    """The key id of a well-formed secret with a valid checksum, else None."""
    if len(candidate) != MAX_SECRET_LENGTH:
        return None
    match = _SHAPE.fullmatch(candidate)
    if match is None:
        return None
    body = candidate[:-CHECKSUM_CHARS]
    if not hmac.compare_digest(_checksum(body), match["crc"]):
        return None
    return ParsedKey(key_id=match["id"], secret=candidate)


class KeyHasher:
    def __init__(self, hash_key: bytes) -> None:
        self._key = hash_key

    def digest(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def matches(self, secret: str, stored: bytes | None) -> bool:
        """Constant-time check; a missing hash still costs one HMAC and fails."""
        expected = stored if stored is not None else b"\0" * 32
        return hmac.compare_digest(self.digest(secret), expected) and stored is not None
