"""Token introspection (RFC 7662): the verdict this service would give a bearer token.

The checks are exactly those of every bearer call (:func:`sessions.verify_token`):
signature, header, claims and revocation. Every failure is the same inactive answer,
which says nothing about why (RFC 7662 section 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xpay_auth.errors import Unauthorized
from xpay_auth.services.sessions import SessionDeps, verify_token

INACTIVE: dict[str, Any] = {"active": False}


@dataclass(frozen=True, slots=True)
class IntrospectionDeps:
    sessions: SessionDeps  # the checks of every bearer call
    issuer: str  # the ``iss`` and ``aud`` an active answer names
    audience: str


async def introspect(deps: IntrospectionDeps, token: str) -> dict[str, Any]:
    """The RFC 7662 section 2.2 response members for ``token``."""
    try:
        claims = await verify_token(deps.sessions, token)
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
        "aud": deps.audience,
        "iss": deps.issuer,
        "jti": claims.token_id,
        "sid": claims.ticket,
    }
