"""Purpose-bound subkeys of the server secret (HKDF, RFC 5869).

One secret in the settings; each use gets its own key, so that no key ever serves two
purposes and a leak of one derived key tells nothing of the others.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_KEY_HASH = b"xpay-auth/api-key-hash/v1"
SIGNING_KEY_WRAP = b"xpay-auth/signing-key-wrap/v1"


def derive_key(server_secret: bytes, purpose: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(
        server_secret
    )
