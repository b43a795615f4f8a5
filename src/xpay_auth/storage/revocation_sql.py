"""The revocation rule (``security.revocation_rule.RULE``) as SQL, built from the rule itself.

Every query that asks whether a revocation covers a token goes through :func:`revoked_by`:
the token's fields are bound parameters (a bearer check), a session's columns (the session
list), or literals (a ticket about to be stored); the entry's are the ``revocations`` columns,
or literals (a new account mark deciding which ticket entries it covers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, false, or_, true

from xpay_auth.security.revocation_rule import (
    RULE,
    Comparison,
    EntryField,
    RevocationKind,
    TokenField,
    Value,
    holds,
)

# A side of the comparison: SQL expressions, or plain values known before the query.
Operand = ColumnElement[Any] | Value
Side = Mapping[Any, Operand]


def entry_columns(table: FromClause) -> dict[EntryField, Operand]:
    """The rule's entry fields on the ``revocations`` table (or an alias of it)."""
    return {
        EntryField.NOT_AFTER_S: table.c.not_after_s,
        EntryField.EXCEPT_TICKET: table.c.except_ticket,
    }


def _compared(test: Comparison, entry: Operand, token: Operand) -> ColumnElement[bool]:
    """One condition in SQL. A plain None is decided here, never bound as an untyped NULL."""
    if test is Comparison.AT_OR_AFTER:
        return _at_or_after(entry, token)
    return _unset_or_other(entry, token)


def _at_or_after(entry: Operand, token: Operand) -> ColumnElement[bool]:
    if isinstance(entry, ColumnElement) and token is not None:
        return entry >= token
    if isinstance(token, ColumnElement) and entry is not None:
        return token <= entry
    if isinstance(entry, ColumnElement) or isinstance(token, ColumnElement):
        return false()  # the other side is None
    return true() if holds(Comparison.AT_OR_AFTER, entry, token) else false()


def _unset_or_other(entry: Operand, token: Operand) -> ColumnElement[bool]:
    if isinstance(entry, ColumnElement):
        return entry.is_(None) if token is None else or_(entry.is_(None), entry != token)
    if entry is None:
        return true()
    if isinstance(token, ColumnElement):
        return token != entry
    return true() if holds(Comparison.UNSET_OR_OTHER, entry, token) else false()


def _equal(entry: Operand, token: Operand) -> ColumnElement[bool]:
    if isinstance(entry, ColumnElement) and token is not None:
        return entry == token
    if isinstance(token, ColumnElement) and entry is not None:
        return token == entry
    if isinstance(entry, ColumnElement) or isinstance(token, ColumnElement):
        return false()  # the other side is None
    return true() if entry is not None and entry == token else false()


def revoked_by(
    kind: RevocationKind,
    *,
    subject: Operand,
    entry: Side,
    token: Side,
    kind_column: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """True where the entry of ``kind`` revokes the token, by the rule.

    ``kind_column`` is the entries' kind column when they are rows of several kinds.
    """
    rule = RULE[kind]
    tests = [_equal(subject, token[rule.subject_is])]
    tests.extend(
        _compared(condition.test, entry[condition.entry], token[condition.token])
        for condition in rule.conditions
    )
    if kind_column is not None:
        tests.insert(0, kind_column == kind.value)
    return and_(*tests)


def any_revokes(
    table: FromClause, token: Mapping[TokenField, Operand], kinds: Iterable[RevocationKind]
) -> ColumnElement[bool]:
    """True where a row of ``table`` (the revocations) of one of ``kinds`` revokes the token."""
    tests = [
        revoked_by(
            kind,
            kind_column=table.c.kind,
            subject=table.c.subject,
            entry=entry_columns(table),
            token=token,
        )
        for kind in kinds
    ]
    return or_(*tests) if tests else false()
