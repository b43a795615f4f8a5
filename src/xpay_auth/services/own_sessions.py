"""An account's live sessions: listed and ended by their owner.

A login is answered only once its session is committed, so every session it answered on any
worker or node is listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.domain import Account, Session
from xpay_auth.errors import NotFound
from xpay_auth.logs import now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.services.revocations import revoke_ticket
from xpay_auth.storage.revocations import RevocationRepository
from xpay_auth.storage.rows import Page
from xpay_auth.storage.sessions import SessionRepository


@dataclass(frozen=True, slots=True)
class OwnSessionDeps:
    sessions: SessionRepository
    revocations: RevocationRepository
    audit: AuditTrail


async def list_live_sessions(
    sessions: SessionRepository, account: Account, *, offset: int, limit: int
) -> Page[Session]:
    """Unexpired, unrevoked sessions of the account, newest first."""
    return await sessions.live_page_for_account(account.id, now_ms(), offset=offset, limit=limit)


async def revoke_own_session(
    deps: OwnSessionDeps, account: Account, ticket: str, *, current_ticket: str, ctx: RequestContext
) -> None:
    """End one session of ``account``; another account's ticket looks absent."""
    session = await deps.sessions.by_ticket(ticket)
    if ticket != current_ticket and (session is None or session.account_id != account.id):
        raise NotFound({"ticket": ticket}, message="no such session")
    await revoke_ticket(deps.revocations, ticket, session)
    await deps.audit.record(
        "session.revoked",
        "ok",
        ctx,
        username=account.username,
        account_id=account.id,
        ticket=ticket,
    )
