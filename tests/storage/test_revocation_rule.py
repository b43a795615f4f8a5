"""The revocation rule in SQL and in memory agree, on random revocations and random tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from tests.databases import open_database
from xpay_auth.domain import Account, Session
from xpay_auth.logs import now_ms
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID, AccessClaims
from xpay_auth.security.revocation import (
    Revocation,
    RevocationEntry,
    RevocationKind,
    RevocationSet,
)
from xpay_auth.storage.rows import revocations, sessions

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from xpay_auth.storage.database import Database

pytestmark = pytest.mark.anyio

HOUR_MS = 3_600_000
NOW_S = now_ms() // 1000
# Small pools, so that random entries and tokens often name the same things, and times a few
# seconds apart, so that "at", "just before" and "just after" a mark all come up.
ACCOUNTS = ("acc_rule_a", "acc_rule_b")
KEYS = ("key_rule_a", "key_rule_b")
TICKETS = tuple(f"{n:032x}" for n in range(6))
seconds = st.integers(NOW_S - 3, NOW_S + 3)

EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    # One database serves every example; each example empties the two tables it fills.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Token:
    ticket: str
    key_id: str | None
    account_id: str
    issued_at_s: int
    stored_iat: bool  # False: a session row written before the iat was kept

    def claims(self) -> AccessClaims:
        return AccessClaims(
            subject=self.account_id,
            username="",
            scopes=("tme_user",),
            ticket=self.ticket,
            client_id=self.key_id or DASHBOARD_CLIENT_ID,
            token_id="",
            issued_at=self.issued_at_s,
            expires_at=NOW_S + 3600,
        )

    def session(self) -> Session:
        return Session(
            ticket=self.ticket,
            account_id=self.account_id,
            api_key_id=self.key_id,
            is_api=self.key_id is not None,
            scopes=("tme_user",),
            created_at_ms=self.issued_at_s * 1000 + 250,
            expires_at_ms=(NOW_S + 3600) * 1000,
            issued_at_s=self.issued_at_s if self.stored_iat else None,
        )


revocation_entries = st.one_of(
    st.builds(Revocation, st.just(RevocationKind.TICKET), st.sampled_from(TICKETS)),
    st.builds(Revocation, st.just(RevocationKind.KEY), st.sampled_from(KEYS)),
    st.builds(
        Revocation,
        st.just(RevocationKind.ACCOUNT),
        st.sampled_from(ACCOUNTS),
        seconds,
        st.none() | st.sampled_from(TICKETS),
    ),
)
tokens = st.lists(
    st.builds(
        Token,
        st.sampled_from(TICKETS),
        st.none() | st.sampled_from(KEYS),
        st.sampled_from(ACCOUNTS),
        seconds,
        st.booleans(),
    ),
    unique_by=lambda token: token.ticket,
    max_size=len(TICKETS),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        for account_id in ACCOUNTS:
            account = Account(
                id=account_id,
                username=f"{account_id}@example.com",
                scopes=("tme_user",),
                password_hash=None,
                disabled=False,
                created_at_ms=0,
            )
            await database.accounts.create(account)
        yield database


async def _store(db: Database, entries: list[RevocationEntry], stored: list[Token]) -> None:
    """The entries as rows, written directly: the rule is under test, not what ``record`` keeps."""
    async with db.engine.begin() as conn:
        await conn.execute(delete(revocations))
        await conn.execute(delete(sessions))
        for seq, entry in enumerate(entries, start=1):
            revocation = entry.revocation
            await conn.execute(
                insert(revocations).values(
                    kind=revocation.kind.value,
                    subject=revocation.subject,
                    not_after_s=revocation.not_after_s,
                    except_ticket=revocation.except_ticket,
                    created_at_ms=0,
                    expires_at_ms=entry.expires_at_ms,
                    seq=seq,
                )
            )
    await db.sessions.insert_many([token.session() for token in stored])


@given(chosen=st.lists(revocation_entries, max_size=8), stored=tokens)
@EXAMPLES
async def test_sql_and_memory_revoke_the_same_tokens(
    db: Database, chosen: list[Revocation], stored: list[Token]
) -> None:
    """A bearer check's SQL, the session list's SQL and RevocationSet revoke the same tokens."""
    expires_at = now_ms() + HOUR_MS
    # One entry per (kind, subject), the last, as the table keeps and the feed replaces.
    latest = {(item.kind, item.subject): item for item in chosen}
    entries = [RevocationEntry(item, expires_at) for item in latest.values()]
    await _store(db, entries, stored)
    index = RevocationSet.of(entries)

    for token in stored:
        in_memory = index.is_revoked(token.claims())
        in_sql = await db.revocations.is_revoked(
            ticket=token.ticket,
            key_id=token.key_id,
            account_id=token.account_id,
            issued_at_s=token.issued_at_s,
        )
        assert in_sql == in_memory, (token, entries)

    for account_id in ACCOUNTS:
        page = await db.sessions.live_page_for_account(account_id, now_ms(), offset=0, limit=100)
        live = {
            token.ticket
            for token in stored
            if token.account_id == account_id and not index.is_revoked(token.claims())
        }
        assert {session.ticket for session in page.items} == live, (account_id, entries)
        assert page.total == len(live)
