"""Signing keys: ES256 pairs, RFC 7638 thumbprints, sealing at rest, public JWKs."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest
from joserfc.jwk import ECKey

from xpay_auth.security import signing_keys
from xpay_auth.security.signing_keys import KeyWrapper, SigningKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


def _numbers(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


def test_seal_then_open_gives_back_the_private_key() -> None:
    """A sealed key opens under the same secret and kid to the same private key."""
    key = signing_keys.generate(1_700_000_000_000)
    wrapper = KeyWrapper(secrets.token_bytes(48))
    sealed = wrapper.seal(key)
    assert key.private_key is not None
    assert _numbers(wrapper.open(key.kid, sealed)) == _numbers(key.private_key)


def test_sealed_form_is_encrypted_and_fresh_each_time() -> None:
    """The sealed bytes hide the key and differ between two seals (random nonce)."""
    key = signing_keys.generate(0)
    wrapper = KeyWrapper(b"s" * 48)
    first, second = wrapper.seal(key), wrapper.seal(key)
    assert first != second
    assert key.private_key is not None
    raw = _numbers(key.private_key).to_bytes(32, "big")
    assert raw not in first


def test_open_with_another_secret_fails() -> None:
    """A key sealed under one server secret cannot be opened under another."""
    key = signing_keys.generate(0)
    sealed = KeyWrapper(b"a" * 48).seal(key)
    with pytest.raises(SigningKeyError, match="XPAY_AUTH_SECRET_KEY"):
        KeyWrapper(b"b" * 48).open(key.kid, sealed)


def test_ciphertext_moved_to_another_kid_fails() -> None:
    """The kid is bound as associated data, so a sealed key cannot be moved to another kid."""
    key, other = signing_keys.generate(0), signing_keys.generate(0)
    wrapper = KeyWrapper(b"a" * 48)
    with pytest.raises(SigningKeyError):
        wrapper.open(other.kid, wrapper.seal(key))


def test_tampered_ciphertext_fails() -> None:
    """Flipping one bit of the sealed key makes it fail to open."""
    key = signing_keys.generate(0)
    wrapper = KeyWrapper(b"a" * 48)
    sealed = bytearray(wrapper.seal(key))
    sealed[-1] ^= 1
    with pytest.raises(SigningKeyError):
        wrapper.open(key.kid, bytes(sealed))


def test_public_key_has_no_private_part_to_seal() -> None:
    """Sealing a key without its private part is refused."""
    key = signing_keys.generate(0)
    public_only = signing_keys.SigningKey(key.kid, key.public_key, None, 0)
    with pytest.raises(SigningKeyError):
        KeyWrapper(b"a" * 48).seal(public_only)


def test_kid_is_the_stable_rfc7638_thumbprint() -> None:
    """The kid is the key's RFC 7638 thumbprint, as an independent library computes it."""
    key = signing_keys.generate(0)
    assert signing_keys.thumbprint(key.public_key) == key.kid
    assert signing_keys.thumbprint(key.public_key) == signing_keys.thumbprint(key.public_key)
    assert ECKey.import_key(key.public_jwk()).thumbprint() == key.kid
    assert signing_keys.generate(0).kid != key.kid


def test_public_jwk_has_no_private_member_and_round_trips() -> None:
    """The published JWK is a P-256 public key with kid, use and alg, and no "d"."""
    key = signing_keys.generate(0)
    jwk = key.public_jwk()
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == key.kid
    assert "d" not in jwk
    restored = signing_keys.public_key_from_jwk(jwk)
    assert restored.public_numbers() == key.public_key.public_numbers()
