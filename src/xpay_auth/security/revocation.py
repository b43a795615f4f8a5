"""Which tokens have been revoked, decided the same way everywhere.

A revocation names a ticket (one session), an API key (every session opened with it), or an
account (every session whose token was issued at or before ``not_after``, optionally sparing
the one session that asked, as a password change does). Tokens are never stored; this is
all a verifier needs besides the signature. Entries are kept until every token they could
match has expired.
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

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "notAfter": self.not_after,
            "exceptTicket": self.except_ticket,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Revocation:
        not_after, except_ticket = raw.get("notAfter"), raw.get("exceptTicket")
        return cls(
            kind=RevocationKind(raw["kind"]),
            subject=str(raw["subject"]),
            not_after=int(not_after) if not_after is not None else None,
            except_ticket=str(except_ticket) if except_ticket is not None else None,
        )


@dataclass(slots=True)
class RevocationSet:
    """An in-memory index of revocations for verifiers that cannot ask the database."""

    tickets: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    accounts: dict[str, list[Revocation]] = field(default_factory=dict)

    @classmethod
    def of(cls, revocations: Iterable[Revocation]) -> RevocationSet:
        result = cls()
        for revocation in revocations:
            result.add(revocation)
        return result

    def add(self, revocation: Revocation) -> None:
        if revocation.kind is RevocationKind.TICKET:
            self.tickets.add(revocation.subject)
        elif revocation.kind is RevocationKind.KEY:
            self.keys.add(revocation.subject)
        else:
            self.accounts.setdefault(revocation.subject, []).append(revocation)

    def is_revoked(self, claims: AccessClaims) -> bool:
        if claims.ticket in self.tickets:
            return True
        if claims.key_id is not None and claims.key_id in self.keys:
            return True
        return any(entry.matches(claims) for entry in self.accounts.get(claims.subject, ()))
