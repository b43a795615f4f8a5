"""Revocation entries and the in-memory revocation set decide alike."""

from __future__ import annotations

from typing import Any

import pytest

from xpay_auth.security.claims import DASHBOARD_CLIENT_ID, AccessClaims
from xpay_auth.security.revocation import (
    Revocation,
    RevocationEntry,
    RevocationKind,
    RevocationSet,
)

TICKET_A = "a" * 32
TICKET_B = "b" * 32


def _claims(**overrides: Any) -> AccessClaims:
    values: dict[str, Any] = {
        "subject": "acc_1",
        "username": "alice@example.com",
        "scopes": ("tme_user",),
        "ticket": TICKET_A,
        "client_id": "key1",
        "token_id": "jti",
        "issued_at": 1000,
        "expires_at": 4600,
    }
    values.update(overrides)
    return AccessClaims(**values)


def test_ticket_revocation_matches_that_ticket_only() -> None:
    """A ticket entry matches the tokens of that session and no other."""
    entry = Revocation(RevocationKind.TICKET, TICKET_A)
    assert entry.matches(_claims())
    assert not entry.matches(_claims(ticket=TICKET_B))


def test_key_revocation_matches_every_session_of_the_key() -> None:
    """A key entry matches every token issued through that key, not dashboard tokens."""
    entry = Revocation(RevocationKind.KEY, "key1")
    assert entry.matches(_claims(ticket=TICKET_A))
    assert entry.matches(_claims(ticket=TICKET_B))
    assert not entry.matches(_claims(client_id="key2"))
    assert not entry.matches(_claims(client_id=DASHBOARD_CLIENT_ID))


def test_account_revocation_boundary_is_inclusive() -> None:
    """An account entry matches tokens issued at or before not_after, not after it."""
    entry = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000)
    assert entry.matches(_claims(issued_at=999))
    assert entry.matches(_claims(issued_at=1000))
    assert not entry.matches(_claims(issued_at=1001))
    assert not entry.matches(_claims(subject="acc_2", issued_at=999))


def test_account_revocation_spares_the_except_ticket() -> None:
    """The session named as except_ticket survives its account's revocation."""
    entry = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=2000, except_ticket=TICKET_B)
    assert entry.matches(_claims(ticket=TICKET_A))
    assert not entry.matches(_claims(ticket=TICKET_B))


@pytest.mark.parametrize(
    ("entry", "members"),
    [
        (Revocation(RevocationKind.TICKET, TICKET_A), set()),
        (Revocation(RevocationKind.KEY, "key1"), set()),
        (Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000), {"notAfter"}),
        (
            Revocation(RevocationKind.ACCOUNT, "acc_1", not_after_s=1000, except_ticket=TICKET_B),
            {"notAfter", "exceptTicket"},
        ),
    ],
)
def test_json_round_trip_leaves_out_empty_members(entry: Revocation, members: set[str]) -> None:
    """An entry survives to_json and from_json unchanged, and carries no null member."""
    raw = RevocationEntry(entry, 5000).to_json()
    assert set(raw) == {"kind", "subject", "expiresAt", *members}
    assert RevocationEntry.from_json(raw) == RevocationEntry(entry, 5000)


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "bogus", "subject": "x", "expiresAt": 1},
        {"kind": "ticket", "subject": "", "expiresAt": 1},
        {"kind": "ticket", "subject": "x", "expiresAt": "1"},
        {"kind": "ticket", "subject": "x", "expiresAt": True},
        {"kind": "account", "subject": "x", "expiresAt": 1},
        {"kind": "account", "subject": "x", "expiresAt": 1, "notAfter": 1, "exceptTicket": 5},
        {"kind": "ticket", "subject": "x"},
    ],
)
def test_from_json_refuses_a_malformed_entry(raw: dict[str, Any]) -> None:
    """An entry of an unknown kind or with ill-typed members is refused, never half-read."""
    with pytest.raises((ValueError, TypeError, KeyError)):
        RevocationEntry.from_json(raw)


def test_a_later_entry_replaces_the_one_it_changes_and_prune_forgets_the_spent() -> None:
    """An account keeps its latest mark; entries past their end are pruned."""
    revoked = RevocationSet()
    revoked.apply(RevocationEntry(Revocation(RevocationKind.ACCOUNT, "acc_1", 900), 5000))
    revoked.apply(RevocationEntry(Revocation(RevocationKind.ACCOUNT, "acc_1", 1200), 9000))
    revoked.apply(RevocationEntry(Revocation(RevocationKind.TICKET, TICKET_A), 4000))
    assert revoked.is_revoked(_claims(issued_at=1100, ticket=TICKET_B))
    assert len(revoked) == 2
    assert revoked.prune(4000) == 1
    assert not revoked.is_revoked(_claims(issued_at=1300))
    assert revoked.is_revoked(_claims(issued_at=1200, ticket=TICKET_B))


def test_revocation_set_agrees_with_the_entries() -> None:
    """The set revokes exactly what one of its entries matches, for many claims."""
    entries = [
        Revocation(RevocationKind.TICKET, TICKET_A),
        Revocation(RevocationKind.KEY, "key9"),
        Revocation(RevocationKind.ACCOUNT, "acc_2", not_after_s=1500, except_ticket=TICKET_B),
    ]
    revoked = RevocationSet.of(RevocationEntry(entry, 5000) for entry in entries)
    for subject in ("acc_1", "acc_2"):
        for ticket in (TICKET_A, TICKET_B, "c" * 32):
            for client_id in ("key1", "key9", DASHBOARD_CLIENT_ID):
                for issued_at in (1000, 1500, 1501):
                    claims = _claims(
                        subject=subject, ticket=ticket, client_id=client_id, issued_at=issued_at
                    )
                    expected = any(entry.matches(claims) for entry in entries)
                    assert revoked.is_revoked(claims) is expected, claims


def test_empty_set_revokes_nothing() -> None:
    """A set without entries revokes no token."""
    assert not RevocationSet().is_revoked(_claims())
