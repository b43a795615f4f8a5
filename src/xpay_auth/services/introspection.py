"""Token introspection (RFC 7662): the verdict this service would give a bearer token.

The checks are exactly those of every bearer call (:func:`sessions.verify_token`):
signature, header, claims and revocation. Every failure is the same inactive answer,
which says nothing about why (RFC 7662 section 2.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xpay_auth.errors import Unauthorized
from xpay_auth.services.sessions import verify_token

if TYPE_CHECKING:
    from xpay_auth.runtime import Runtime

INACTIVE: dict[str, Any] = {"active": False}


async def introspect(runtime: Runtime, token: str) -> dict[str, Any]:
    """The RFC 7662 section 2.2 response members for ``token``."""
    try:
        claims = await verify_token(runtime, token)
    except Unauthorized:
        return dict(INACTIVE)
    return {
        "active": True,
        "scope": " ".join(claims.scopes),
        "client_id": claims.client_id,
        "username": claims.username,
        "token_type": "Bearer",
        "exp": claims.expires_at,
        "iat": claims.issued_at,
        "sub": claims.subject,
        "aud": runtime.settings.audience,
        "iss": runtime.settings.issuer,
        "jti": claims.token_id,
        "sid": claims.ticket,
    }
