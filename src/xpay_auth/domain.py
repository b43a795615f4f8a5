"""The service's records, as the services see them: plain values, no ORM, no HTTP.

Every time is an integer whose name says its unit: ``_ms`` since the epoch, or ``_s`` for
the seconds of a token's ``iat`` and the marks compared with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Scope(StrEnum):
    USER = "tme_user"
    ADMIN = "tme_admin"
    # Operator reads only (account search, audit trail), for integrations that read by API
    # key: an operator's key that leaks must not be able to create or change credentials.
    ADMIN_READ = "tme_admin_read"
    INTROSPECT = "tme_introspect"
    # A verifier (the guard) reading the revocation feed; nothing else.
    VERIFIER = "tme_verifier"


KNOWN_SCOPES = frozenset(scope.value for scope in Scope)


def normalize_username(raw: str) -> str:
    """Surrounding spaces are ignored and comparison is case-insensitive (the contract)."""
    return raw.strip().lower()


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    scopes: tuple[str, ...]
    password_hash: str | None
    disabled: bool
    created_at_ms: int
    # Tokens of this account issued at or before this second are revoked.
    tokens_not_after_s: int | None = None
    failed_password_attempts: int = 0


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: bytes
    created_at_ms: int
    expires_at_ms: int | None = None
    revoked_at_ms: int | None = None
    last_used_at_ms: int | None = None
    previous_secret_hash: bytes | None = None
    previous_expires_at_ms: int | None = None
    allowed_cidrs: tuple[str, ...] = ()

    def is_live(self, now_ms: int) -> bool:
        return self.revoked_at_ms is None and (
            self.expires_at_ms is None or self.expires_at_ms > now_ms
        )

    def status(self, now_ms: int) -> Literal["active", "expired", "revoked"]:
        """``revoked``, ``expired`` or ``active``: the one definition every listing shows."""
        if self.revoked_at_ms is not None:
            return "revoked"
        return "active" if self.is_live(now_ms) else "expired"


@dataclass(frozen=True, slots=True)
class Session:
    ticket: str
    account_id: str
    api_key_id: str | None
    is_api: bool
    scopes: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int
    client_ip: str | None = None
    issued_at_s: int | None = None  # the token's iat
