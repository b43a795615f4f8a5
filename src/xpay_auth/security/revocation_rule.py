"""The revocation rule, stated once: which entry revokes which token.

A token is revoked by an entry

- of kind ``ticket`` naming the token's ticket (its session);
- of kind ``key`` naming the API key the token was issued through;
- of kind ``account`` naming the token's account, whose ``not_after_s`` (seconds) is at or
  after the token's ``iat``, unless the entry spares the token's own ticket
  (``except_ticket``, the session that changed the password).

The rule is data (:data:`RULE`): :func:`revokes` reads it here for the verifiers that hold
revocations in memory, and ``xpay_auth.storage.revocation_sql`` builds every SQL test of a
revocation from it, so the two cannot come to disagree. A missing value never matches, as
a NULL never compares equal in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class RevocationKind(StrEnum):
    TICKET = "ticket"
    KEY = "key"
    ACCOUNT = "account"


class TokenField(StrEnum):
    """What the rule reads of a token (a JWT's claims, or a stored session)."""

    TICKET = "ticket"
    KEY_ID = "key_id"
    ACCOUNT_ID = "account_id"
    ISSUED_AT_S = "issued_at_s"


class EntryField(StrEnum):
    """What the rule reads of a revocation entry besides its kind and subject."""

    NOT_AFTER_S = "not_after_s"
    EXCEPT_TICKET = "except_ticket"


class Comparison(StrEnum):
    # The entry's value is set and at or after the token's.
    AT_OR_AFTER = "at_or_after"
    # The entry's value is unset, or set and unlike the token's (which is set).
    UNSET_OR_OTHER = "unset_or_other"


@dataclass(frozen=True, slots=True)
class Condition:
    entry: EntryField
    test: Comparison
    token: TokenField


@dataclass(frozen=True, slots=True)
class KindRule:
    """An entry of this kind names the token's ``subject_is`` and meets every condition."""

    subject_is: TokenField
    conditions: tuple[Condition, ...] = ()


RULE: Mapping[RevocationKind, KindRule] = {
    RevocationKind.TICKET: KindRule(TokenField.TICKET),
    RevocationKind.KEY: KindRule(TokenField.KEY_ID),
    RevocationKind.ACCOUNT: KindRule(
        TokenField.ACCOUNT_ID,
        (
            Condition(EntryField.NOT_AFTER_S, Comparison.AT_OR_AFTER, TokenField.ISSUED_AT_S),
            Condition(EntryField.EXCEPT_TICKET, Comparison.UNSET_OR_OTHER, TokenField.TICKET),
        ),
    ),
}

Value = str | int | None


def holds(test: Comparison, entry_value: Value, token_value: Value) -> bool:
    """One condition, on plain values; NULL-safe exactly as its SQL form is."""
    if test is Comparison.AT_OR_AFTER:
        return (
            isinstance(entry_value, int)
            and isinstance(token_value, int)
            and entry_value >= token_value
        )
    return entry_value is None or (token_value is not None and entry_value != token_value)


def revokes(
    kind: RevocationKind,
    subject: str,
    entry: Mapping[EntryField, Value],
    token: Mapping[TokenField, Value],
) -> bool:
    """Whether the entry ``(kind, subject, entry)`` revokes ``token``, by :data:`RULE`."""
    rule = RULE[kind]
    named = token[rule.subject_is]
    if named is None or named != subject:
        return False
    for condition in rule.conditions:  # a loop, not all(): this runs on every bearer check
        if not holds(condition.test, entry[condition.entry], token[condition.token]):
            return False
    return True
