"""Which tokens have been revoked, decided the same way everywhere.

A revocation names a ticket (one session), an API key (every session opened with it), or an
account (every session whose token was issued at or before ``not_after``, optionally sparing
the one session that asked, as a password change does). Tokens are never stored; this is
all a verifier needs besides the signature.

Each revocation is kept, under its (kind, subject), only until every token it could match
has expired (``expires_at``); an account has one mark, the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from xpay_auth.security.tokens import AccessClaims


class RevocationKind(StrEnum):
    TICKET = "ticket"
    KEY = "key"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: RevocationKind
    subject: str
    not_after: int | None = None  # accounts: tokens issued at or before this second
    except_ticket: str | None = None  # accounts: the session that survives

    def matches(self, claims: AccessClaims) -> bool:
        if self.kind is RevocationKind.TICKET:
            return claims.ticket == self.subject
        if self.kind is RevocationKind.KEY:
            return claims.key_id == self.subject
        return (
            claims.subject == self.subject
            and claims.issued_at <= (self.not_after or 0)
            and claims.ticket != self.except_ticket
        )


@dataclass(frozen=True, slots=True)
class RevocationEntry:
    """A revocation and the moment (ms) after which no token it matches is still valid."""

    revocation: Revocation
    expires_at: int

    @property
    def key(self) -> tuple[str, str]:
        return self.revocation.kind.value, self.revocation.subject

    def to_json(self) -> dict[str, Any]:
        """The feed's form: nulls left out, so that a page of entries stays small."""
        revocation = self.revocation
        raw: dict[str, Any] = {
            "kind": revocation.kind.value,
            "subject": revocation.subject,
            "expiresAt": self.expires_at,
        }
        if revocation.not_after is not None:
            raw["notAfter"] = revocation.not_after
        if revocation.except_ticket is not None:
            raw["exceptTicket"] = revocation.except_ticket
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RevocationEntry:
        kind = RevocationKind(raw["kind"])
        subject, expires_at = raw["subject"], raw["expiresAt"]
        not_after, except_ticket = raw.get("notAfter"), raw.get("exceptTicket")
        if not isinstance(subject, str) or not subject:
            raise ValueError("subject must be a string")
        if not isinstance(expires_at, int) or isinstance(expires_at, bool):
            raise TypeError("expiresAt must be an integer")
        if kind is RevocationKind.ACCOUNT and not isinstance(not_after, int):
            raise TypeError("an account revocation needs notAfter")
        if except_ticket is not None and not isinstance(except_ticket, str):
            raise TypeError("exceptTicket must be a string")
        return cls(Revocation(kind, subject, not_after, except_ticket), expires_at)


@dataclass(slots=True)
class RevocationSet:
    """An in-memory index of revocations for verifiers that cannot ask the database.

    Entries replace the entry of the same (kind, subject), as the feed sends changes.
    """

    tickets: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, RevocationEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[RevocationEntry]) -> RevocationSet:
        result = cls()
        for entry in entries:
            result.apply(entry)
        return result

    def __len__(self) -> int:
        return len(self.tickets) + len(self.keys) + len(self.accounts)

    def apply(self, entry: RevocationEntry) -> None:
        revocation = entry.revocation
        if revocation.kind is RevocationKind.TICKET:
            self.tickets[revocation.subject] = entry.expires_at
        elif revocation.kind is RevocationKind.KEY:
            self.keys[revocation.subject] = entry.expires_at
        else:
            self.accounts[revocation.subject] = entry

    def prune(self, now_ms: int) -> int:
        """Forget entries whose every token has expired; how many went."""
        before = len(self)
        self.tickets = {ticket: end for ticket, end in self.tickets.items() if end > now_ms}
        self.keys = {key: end for key, end in self.keys.items() if end > now_ms}
        self.accounts = {
            account: entry for account, entry in self.accounts.items() if entry.expires_at > now_ms
        }
        return before - len(self)

    def is_revoked(self, claims: AccessClaims) -> bool:
        if claims.ticket in self.tickets:
            return True
        if claims.key_id is not None and claims.key_id in self.keys:
            return True
        mark = self.accounts.get(claims.subject)
        return mark is not None and mark.revocation.matches(claims)
