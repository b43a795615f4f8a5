"""Who is calling: the verified bearer token, and the request context naming its user."""

from __future__ import annotations

import dataclasses

from xpay_auth.domain import Account
from xpay_auth.http.endpoint import Call
from xpay_auth.request_context import RequestContext
from xpay_auth.security.claims import AccessClaims
from xpay_auth.services import callers, sessions


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    claims: AccessClaims
    account: Account
    # The request context with ``actor`` set, for the audit trail.
    ctx: RequestContext


async def authorized(
    call: Call,
    *,
    scope: str | None = None,
    dashboard_only: bool = False,
    also: tuple[str, ...] = (),
) -> Caller:
    """The caller of a bearer call: 401 without a valid token, 403 without the right one."""
    claims = await sessions.authorize(
        call.services.sessions,
        call.authorization,
        scope=scope,
        dashboard_only=dashboard_only,
        also=also,
    )
    account = await callers.caller_account(call.database.accounts, claims)
    return Caller(claims, account, dataclasses.replace(call.ctx, actor=claims.username))
