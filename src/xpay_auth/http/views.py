"""Wire shapes of the records: what a client may see, and nothing else.

No view ever holds a secret, a secret hash or a password hash.
"""

from __future__ import annotations

from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.http.replies import Account as AccountView
from xpay_auth.http.replies import ApiKey as KeyView
from xpay_auth.http.replies import SessionSummary
from xpay_auth.security.api_keys import display_prefix


def key_view(key: ApiKey, now: int) -> KeyView:
    in_grace = key.previous_expires_at_ms is not None and key.previous_expires_at_ms > now
    return {
        "id": key.id,
        "name": key.name,
        "prefix": display_prefix(key.id),
        "scopes": list(key.scopes),
        "status": key.status(now),
        "createdAt": key.created_at_ms,
        "expiresAt": key.expires_at_ms,
        "revokedAt": key.revoked_at_ms,
        "lastUsedAt": key.last_used_at_ms,
        "allowedCidrs": list(key.allowed_cidrs),
        "previousSecretExpiresAt": key.previous_expires_at_ms if in_grace else None,
    }


def account_view(account: Account) -> AccountView:
    return {
        "id": account.id,
        "username": account.username,
        "scopes": list(account.scopes),
        "disabled": account.disabled,
        "hasPassword": account.password_hash is not None,
        # Consecutive wrong passwords; at XPAY_AUTH_PASSWORD_MAX_FAILURES password login is
        # disabled until `unlockPassword` (docs/security.md, "Throttling and enumeration").
        "failedPasswordAttempts": account.failed_password_attempts,
        "createdAt": account.created_at_ms,
    }


def session_view(session: Session, current_ticket: str) -> SessionSummary:
    return {
        "ticket": session.ticket,
        "createdAt": session.created_at_ms,
        "expiresAt": session.expires_at_ms,
        "isAPI": session.is_api,
        "keyId": session.api_key_id,
        "scopes": list(session.scopes),
        "clientIp": session.client_ip,
        "current": session.ticket == current_ticket,
    }
