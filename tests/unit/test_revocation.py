"""Revocation entries and the in-memory revocation set decide alike."""

from __future__ import annotations

from typing import Any

import pytest

from xpay_auth.security.revocation import Revocation, RevocationKind, RevocationSet
from xpay_auth.security.tokens import DASHBOARD_CLIENT_ID, AccessClaims

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
    entry = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after=1000)
    assert entry.matches(_claims(issued_at=999))
    assert entry.matches(_claims(issued_at=1000))
    assert not entry.matches(_claims(issued_at=1001))
    assert not entry.matches(_claims(subject="acc_2", issued_at=999))


def test_account_revocation_spares_the_except_ticket() -> None:
    """The session named as except_ticket survives its account's revocation."""
    entry = Revocation(RevocationKind.ACCOUNT, "acc_1", not_after=2000, except_ticket=TICKET_B)
    assert entry.matches(_claims(ticket=TICKET_A))
    assert not entry.matches(_claims(ticket=TICKET_B))


@pytest.mark.parametrize(
    "entry",
    [
        Revocation(RevocationKind.TICKET, TICKET_A),
        Revocation(RevocationKind.KEY, "key1"),
        Revocation(RevocationKind.ACCOUNT, "acc_1", not_after=1000),
        Revocation(RevocationKind.ACCOUNT, "acc_1", not_after=1000, except_ticket=TICKET_B),
    ],
)
def test_json_round_trip(entry: Revocation) -> None:
    """An entry survives to_json and from_json unchanged."""
    raw = entry.to_json()
    assert set(raw) == {"kind", "subject", "notAfter", "exceptTicket"}
    assert Revocation.from_json(raw) == entry


def test_from_json_refuses_an_unknown_kind() -> None:
    """An entry of an unknown kind is refused rather than silently ignored."""
    with pytest.raises(ValueError, match="bogus"):
        Revocation.from_json({"kind": "bogus", "subject": "x"})


def test_revocation_set_agrees_with_the_entries() -> None:
    """The set revokes exactly what one of its entries matches, for many claims."""
    entries = [
        Revocation(RevocationKind.TICKET, TICKET_A),
        Revocation(RevocationKind.KEY, "key9"),
        Revocation(RevocationKind.ACCOUNT, "acc_2", not_after=1500, except_ticket=TICKET_B),
    ]
    revoked = RevocationSet.of(entries)
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
