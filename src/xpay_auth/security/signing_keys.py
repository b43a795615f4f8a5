"""Token signing keys: ES256 key pairs, their ids, their protection at rest, the JWKS.

ES256 (ECDSA P-256 with SHA-256, RFC 7518 section 3.4) is the default because every JOSE
library, gateway and cloud verifier supports it, while EdDSA support is still patchy; its
signatures are small and signing is fast.

Private keys are stored encrypted with AES-256-GCM under a subkey of the server secret,
with the key id as associated data, so a copy of the database alone yields no signing key
and a ciphertext cannot be moved to another key id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import ECAlgorithm

from xpay_auth.security.derivation import SIGNING_KEY_WRAP, derive_key

ALGORITHM = "ES256"
_NONCE_BYTES = 12


class SigningKeyError(Exception):
    """A stored signing key cannot be opened (wrong server secret or damaged row)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    public_key: ec.EllipticCurvePublicKey
    private_key: ec.EllipticCurvePrivateKey | None
    created_at: int
    retired_at: int | None = None
    publish_until: int | None = None

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 of the required members in lexicographic order."""
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":")
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def generate(created_at: int) -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_key = private_key.public_key()
    return SigningKey(thumbprint(public_key), public_key, private_key, created_at)


class KeyWrapper:
    """Encrypts private keys for storage, and opens them again."""

    def __init__(self, server_secret: bytes) -> None:
        self._aead = AESGCM(derive_key(server_secret, SIGNING_KEY_WRAP))

    def seal(self, key: SigningKey) -> bytes:
        if key.private_key is None:
            raise SigningKeyError(f"signing key {key.kid} has no private part to store")
        der = key.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, der, key.kid.encode())

    def open(self, kid: str, sealed: bytes) -> ec.EllipticCurvePrivateKey:
        try:
            der = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], kid.encode())
        except InvalidTag as exc:
            raise SigningKeyError(
                f"signing key {kid} cannot be decrypted: XPAY_AUTH_SECRET_KEY differs from "
                "the one it was stored with"
            ) from exc
        private_key = serialization.load_der_private_key(der, password=None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise SigningKeyError(f"signing key {kid} is not an EC key")
        return private_key


def public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    key = ECAlgorithm.from_jwk(jwk)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SigningKeyError("JWK is not an EC public key")
    return key
