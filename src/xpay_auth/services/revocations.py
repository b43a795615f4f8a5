"""Revoking sessions: one ticket, every session of a key, every session of an account.

Revocations are recorded as entries that verifiers match against token claims (see
``security.revocation``), not against stored sessions, so a verifier needs no session
lookup. An entry is kept only as long as a token it could match may live: a ticket's
until its token expires, a key's or an account's until the last token issued before it.
Entries that add nothing (repeats, tickets their account's mark already covers) are not
stored (``RevocationRepository.record``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from xpay_auth.domain import Session
from xpay_auth.logs import log_event, now_ms
from xpay_auth.security.claims import AccessClaims
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.security.tokens import DEFAULT_LEEWAY
from xpay_auth.settings import MAX_TOKEN_TTL
from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.storage.revocations import RevocationRepository
from xpay_auth.storage.sessions import SessionRepository

# A token is issued at most a second ahead (after an account's mark) and is accepted up to
# the leeway past its exp: an entry outlives the token's exp by both.
_AFTER_EXP_MS = (DEFAULT_LEEWAY + 1) * 1000


@dataclass(frozen=True, slots=True)
class RevocationDeps:
    """What revoking an account's or a key's tokens reads and writes."""

    accounts: AccountRepository
    sessions: SessionRepository  # the latest expiry of the tokens being revoked
    revocations: RevocationRepository
    token_ttl: int  # seconds: how long a token issued now lives


async def keep_until(
    deps: RevocationDeps, now: int, *, account_id: str | None = None, key_id: str | None = None
) -> int:
    """When every token of the account or key issued up to ``now`` has expired.

    Tokens issued now live ``XPAY_AUTH_TOKEN_TTL``; older ones, issued under a longer
    setting, are found among the stored sessions (every answered login has one).
    """
    latest = await deps.sessions.latest_expiry(account_id=account_id, key_id=key_id)
    return max(now + deps.token_ttl * 1000, latest or 0) + _AFTER_EXP_MS


async def revoke_token_session(revocations: RevocationRepository, claims: AccessClaims) -> bool:
    """Revoke the session of a token presented to us (logout): kept until that token expires."""
    entry = RevocationEntry(
        Revocation(RevocationKind.TICKET, claims.ticket),
        claims.expires_at * 1000 + _AFTER_EXP_MS,
    )
    changed = await revocations.record(
        entry,
        now_ms=now_ms(),
        account_id=claims.subject,
        issued_at_s=claims.issued_at,
        key_id=claims.key_id,
    )
    log_event("session.revoked", ticket=claims.ticket, stored=changed)
    return changed


async def revoke_ticket(
    revocations: RevocationRepository, ticket: str, session: Session | None = None
) -> bool:
    """Revoke a session by ticket, stored yet or not; ``session`` tells how long to keep it.

    A ticket with no stored session (a login still committing, or none at all) is kept
    as long as any token can live.
    """
    if session is None:
        expires_at = now_ms() + (MAX_TOKEN_TTL * 1000) + _AFTER_EXP_MS
        entry = RevocationEntry(Revocation(RevocationKind.TICKET, ticket), expires_at)
        changed = await revocations.record(entry, now_ms=now_ms())
    else:
        expires_at = session.expires_at_ms + _AFTER_EXP_MS
        entry = RevocationEntry(Revocation(RevocationKind.TICKET, ticket), expires_at)
        changed = await revocations.record(
            entry,
            now_ms=now_ms(),
            account_id=session.account_id,
            issued_at_s=session.issued_at_s,
            key_id=session.api_key_id,
        )
    log_event("session.revoked", ticket=ticket, stored=changed)
    return changed


async def change_and_revoke_account(
    deps: RevocationDeps,
    account_id: str,
    values: dict[str, Any],
    *,
    except_ticket: str | None = None,
    with_keys: bool = False,
) -> list[str]:
    """Apply ``values`` and revoke every token of the account issued up to now, but
    ``except_ticket``'s (and, ``with_keys``, every key), in one transaction.

    A change stored without its revocation would leave the old tokens working, and a
    retry would find nothing left to do; so both commit together or neither does.
    Returns the ids of the keys revoked.
    """
    not_after_s = int(time.time())
    now = now_ms()
    revoked = await deps.accounts.update_and_revoke(
        account_id,
        now,
        # New logins read this mark and issue tokens after it (services.authenticate).
        {**values, "tokens_not_after_s": not_after_s},
        mark=Revocation(RevocationKind.ACCOUNT, account_id, not_after_s, except_ticket),
        # The account's sessions include its keys' sessions: one horizon covers both.
        keep_until_ms=await keep_until(deps, now, account_id=account_id),
        with_keys=with_keys,
    )
    log_event("account.sessions_revoked", account_id=account_id, except_ticket=except_ticket)
    return revoked


async def revoke_account_sessions(
    deps: RevocationDeps, account_id: str, *, except_ticket: str | None = None
) -> None:
    """Revoke every token of the account issued up to now, but ``except_ticket``'s."""
    await change_and_revoke_account(deps, account_id, {}, except_ticket=except_ticket)
