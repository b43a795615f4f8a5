"""Which tokens have been revoked, decided the same way everywhere.

A revocation names a ticket (one session), an API key (every session opened with it), or an
account (every session whose token was issued at or before ``not_after_s``, optionally sparing
the one session that asked, as a password change does). Tokens are never stored; this is
all a verifier needs besides the signature.

Each revocation is kept, under its (kind, subject), only until every token it could match
has expired (``expires_at_ms``); an account has one mark, the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xpay_auth.security.claims import AccessClaims
from xpay_auth.security.revocation_rule import (
    RULE,
    EntryField,
    RevocationKind,
    TokenField,
    Value,
    revokes,
)

__all__ = ["Revocation", "RevocationEntry", "RevocationKind", "RevocationSet", "token_fields"]


def token_fields(claims: AccessClaims) -> dict[TokenField, Value]:
    """What the revocation rule reads of a verified token."""
    return {
        TokenField.TICKET: claims.ticket,
        TokenField.KEY_ID: claims.key_id,
        TokenField.ACCOUNT_ID: claims.subject,
        TokenField.ISSUED_AT_S: claims.issued_at,
    }


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: RevocationKind
    subject: str
    not_after_s: int | None = None  # accounts: tokens issued at or before this second
    except_ticket: str | None = None  # accounts: the session that survives

    def fields(self) -> dict[EntryField, Value]:
        return {
            EntryField.NOT_AFTER_S: self.not_after_s,
            EntryField.EXCEPT_TICKET: self.except_ticket,
        }

    def matches(self, claims: AccessClaims) -> bool:
        return self.revokes(token_fields(claims))

    def revokes(self, token: Mapping[TokenField, Value]) -> bool:
        return revokes(self.kind, self.subject, self.fields(), token)


@dataclass(frozen=True, slots=True)
class RevocationEntry:
    """A revocation and the moment after which no token it matches is still valid."""

    revocation: Revocation
    expires_at_ms: int

    @property
    def key(self) -> tuple[str, str]:
        return self.revocation.kind.value, self.revocation.subject

    def to_json(self) -> dict[str, Any]:
        """The feed's form: nulls left out, so that a page of entries stays small."""
        revocation = self.revocation
        raw: dict[str, Any] = {
            "kind": revocation.kind.value,
            "subject": revocation.subject,
            "expiresAt": self.expires_at_ms,
        }
        if revocation.not_after_s is not None:
            raw["notAfter"] = revocation.not_after_s
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

    Entries are indexed by kind and subject, the token field the rule says each kind names,
    and replace the entry of the same (kind, subject), as the feed sends changes.
    """

    entries: dict[RevocationKind, dict[str, RevocationEntry]] = field(
        default_factory=lambda: {kind: {} for kind in RevocationKind}
    )

    @classmethod
    def of(cls, entries: Iterable[RevocationEntry]) -> RevocationSet:
        result = cls()
        for entry in entries:
            result.apply(entry)
        return result

    def __len__(self) -> int:
        return sum(len(by_subject) for by_subject in self.entries.values())

    def apply(self, entry: RevocationEntry) -> None:
        self.entries[entry.revocation.kind][entry.revocation.subject] = entry

    def prune(self, now_ms: int) -> int:
        """Forget entries whose every token has expired; how many went."""
        before = len(self)
        self.entries = {
            kind: {
                subject: entry
                for subject, entry in by_subject.items()
                if entry.expires_at_ms > now_ms
            }
            for kind, by_subject in self.entries.items()
        }
        return before - len(self)

    def is_revoked(self, claims: AccessClaims) -> bool:
        token = token_fields(claims)
        for kind, rule in RULE.items():
            # Indexed by subject: only the entry naming the token's field can match.
            entry = self.entries[kind].get(token[rule.subject_is])  # type: ignore[arg-type]
            if entry is not None and entry.revocation.revokes(token):
                return True
        return False
