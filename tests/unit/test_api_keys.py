"""API secret keys: format, randomness, checksum, parsing, keyed hashing."""

from __future__ import annotations

import math
import re
import secrets

import pytest

from xpay_auth.security import api_keys
from xpay_auth.security.api_keys import KeyHasher

_FORMAT = re.compile(r"xpsk_[0-9a-f]{16}_[0-9A-Za-z]{43}[0-9A-Za-z]{6}")


def test_generated_secret_has_the_documented_format() -> None:
    """A secret is xpsk_, a 16-hex id, an underscore, 43 base62 and a 6-character checksum."""
    generated = api_keys.generate()
    assert _FORMAT.fullmatch(generated.secret)
    assert generated.secret.startswith(api_keys.display_prefix(generated.key_id) + "_")
    assert len(generated.secret) == api_keys.MAX_SECRET_LENGTH == 71


def test_random_part_carries_at_least_256_bits() -> None:
    """43 base62 characters hold 256 bits, and every character of the alphabet occurs."""
    assert api_keys.RANDOM_CHARS * math.log2(62) >= 256
    seen: set[str] = set()
    randoms = set()
    for _ in range(200):
        random_part = api_keys.generate().secret[22:65]
        assert len(random_part) == 43
        seen.update(random_part)
        randoms.add(random_part)
    assert len(randoms) == 200
    assert len(seen) == 62


def test_key_ids_are_distinct_and_rotation_keeps_the_id() -> None:
    """New keys get new ids; generating for an existing id keeps it with a new secret."""
    first, second = api_keys.generate(), api_keys.generate()
    assert first.key_id != second.key_id
    rotated = api_keys.generate(first.key_id)
    assert rotated.key_id == first.key_id
    assert rotated.secret != first.secret


def test_parse_returns_the_key_id() -> None:
    """A well-formed secret parses to its key id and itself."""
    generated = api_keys.generate()
    assert api_keys.parse(generated.secret) == generated


def test_checksum_rejects_every_one_character_typo() -> None:
    """Changing any single character of a secret makes it fail to parse."""
    secret = api_keys.generate().secret
    for position in range(len(secret)):
        original = secret[position]
        replacement = "0" if original != "0" else "1"
        typo = secret[:position] + replacement + secret[position + 1 :]
        assert api_keys.parse(typo) is None, position


def test_checksum_rejects_swapped_neighbours() -> None:
    """Two swapped neighbouring characters of the random part fail to parse."""
    secret = api_keys.generate().secret
    for position in range(22, 64):
        if secret[position] != secret[position + 1]:
            swapped = (
                secret[:position] + secret[position + 1] + secret[position] + secret[position + 2 :]
            )
            assert api_keys.parse(swapped) is None


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "xpsk_",
        "not a key at all",
        "a" * 71,
        "a" * 500,
    ],
)
def test_parse_rejects_foreign_strings(candidate: str) -> None:
    """Strings that are not secrets of this service parse to None."""
    assert api_keys.parse(candidate) is None


def test_parse_rejects_wrong_lengths_and_shapes() -> None:
    """Truncated, extended, re-prefixed or re-cased secrets parse to None."""
    secret = api_keys.generate().secret
    variants = [
        secret[:-1],
        secret + "a",
        secret[1:],
        " " + secret[:-1],
        "xpsK" + secret[4:],
        "pk_" + secret[3:],
        secret[:5] + secret[5:21].upper() + secret[21:],
        secret[:21] + "-" + secret[22:],
        secret.replace("_", "-"),
    ]
    for variant in variants:
        if variant != secret:
            assert api_keys.parse(variant) is None, variant


def test_digest_is_a_keyed_hmac_sha256() -> None:
    """The stored digest is 32 bytes, stable under one key and different under another."""
    secret = api_keys.generate().secret
    hasher = KeyHasher(secrets.token_bytes(32))
    digest = hasher.digest(secret)
    assert len(digest) == 32
    assert hasher.digest(secret) == digest
    assert KeyHasher(secrets.token_bytes(32)).digest(secret) != digest
    assert secret.encode() not in digest


def test_matches_only_the_right_secret_and_never_a_missing_hash() -> None:
    """matches accepts the stored secret only; a missing hash always fails."""
    hasher = KeyHasher(b"k" * 32)
    secret, other = api_keys.generate().secret, api_keys.generate().secret
    stored = hasher.digest(secret)
    assert hasher.matches(secret, stored)
    assert not hasher.matches(other, stored)
    assert not hasher.matches(secret, None)
    assert not KeyHasher(b"x" * 32).matches(secret, stored)
