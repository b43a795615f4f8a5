"""Revoking sessions: one ticket, every session of a key, every session of an account.

Revocations are recorded as entries that verifiers match against token claims (see
``security.revocation``), not against stored sessions, so a verifier needs no session
lookup. Entries are kept as long as any token they could match may live.
"""

from __future__ import annotations

import time
from typing import Any

from xpay_auth.logs import log_event, now_ms
from xpay_auth.runtime import Runtime
from xpay_auth.security.revocation import Revocation, RevocationKind
from xpay_auth.security.tokens import DEFAULT_LEEWAY
from xpay_auth.settings import MAX_TOKEN_TTL

# Tokens never live longer than the largest allowed TTL, so neither must their revocations.
_KEEP_MS = (MAX_TOKEN_TTL + DEFAULT_LEEWAY) * 1000


async def revoke_ticket(runtime: Runtime, ticket: str) -> None:
    now = now_ms()
    await runtime.database.revocations.add(
        Revocation(RevocationKind.TICKET, ticket), now=now, expires_at=now + _KEEP_MS
    )
    log_event("session.revoked", ticket=ticket)


def keep_until(now: int) -> int:
    """When a revocation made at ``now`` can match no token any more."""
    return now + _KEEP_MS


async def revoke_key_sessions(runtime: Runtime, key_id: str) -> bool:
    now = now_ms()
    return await runtime.database.revocations.add(
        Revocation(RevocationKind.KEY, key_id), now=now, expires_at=keep_until(now)
    )


async def change_and_revoke_account(
    runtime: Runtime,
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
    not_after = int(time.time())
    now = now_ms()
    revoked = await runtime.database.accounts.update_and_revoke(
        account_id,
        now,
        # New logins read this mark and issue tokens after it (services.authenticate).
        {**values, "tokens_not_after": not_after},
        mark=Revocation(RevocationKind.ACCOUNT, account_id, not_after, except_ticket),
        keep_until=keep_until(now),
        with_keys=with_keys,
    )
    log_event("account.sessions_revoked", account_id=account_id, except_ticket=except_ticket)
    return revoked


async def revoke_account_sessions(
    runtime: Runtime, account_id: str, *, except_ticket: str | None = None
) -> None:
    """Revoke every token of the account issued up to now, but ``except_ticket``'s."""
    await change_and_revoke_account(runtime, account_id, {}, except_ticket=except_ticket)
