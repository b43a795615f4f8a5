"""What operators (scope ``tme_admin``) do to other accounts: scopes, disabling, sessions.

An operator cannot disable their own account or take ``tme_admin`` from it, so the last
operator cannot lock everyone out by mistake; another operator, or the CLI, can.
"""

from __future__ import annotations

from collections.abc import Sequence

from xpay_auth.domain import Account, Scope
from xpay_auth.errors import InvalidField
from xpay_auth.logs import log_event, now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.services.accounts import AccountDeps, check_scopes, set_disabled
from xpay_auth.services.revocations import (
    change_and_revoke_account,
    revoke_account_sessions,
    revoke_ticket,
)


async def update_account(
    deps: AccountDeps,
    account: Account,
    *,
    scopes: Sequence[str] | None,
    disabled: bool | None,
    operator_id: str,
    ctx: RequestContext,
) -> Account:
    """Apply the changes given; returns the account as stored afterwards."""
    new_scopes = check_scopes(scopes) if scopes is not None else account.scopes
    if not new_scopes:
        raise InvalidField("scopes", "must name at least one scope")
    if account.id == operator_id:
        if disabled:
            raise InvalidField("disabled", "an operator cannot disable their own account")
        if Scope.ADMIN.value not in new_scopes:
            raise InvalidField(
                "scopes", f"an operator cannot remove {Scope.ADMIN.value} from themselves"
            )
    if set(new_scopes) != set(account.scopes):
        await _set_scopes(deps, account, new_scopes, ctx)
    if disabled is not None and disabled != account.disabled:
        await set_disabled(deps, account, disabled=disabled, ctx=ctx)
    updated = await deps.accounts.by_id(account.id)
    return updated or account


async def _set_scopes(
    deps: AccountDeps, account: Account, scopes: tuple[str, ...], ctx: RequestContext
) -> None:
    removed = sorted(set(account.scopes) - set(scopes))
    # Tokens carry their scopes until they expire; a removed scope must stop working now,
    # so the change and the revocation are one transaction. Keys need nothing: a key login
    # grants only scopes the account still has.
    if removed:
        await change_and_revoke_account(deps.revocation, account.id, {"scopes": " ".join(scopes)})
    else:
        await deps.accounts.set_scopes(account.id, scopes, now_ms())
    await deps.audit.record(
        "account.updated",
        "ok",
        ctx,
        username=account.username,
        account_id=account.id,
        detail={"scopes": list(scopes), "removed": removed},
    )
    log_event("account.updated", account_id=account.id, removed_scopes=removed)


async def revoke_all_sessions(deps: AccountDeps, account: Account, ctx: RequestContext) -> None:
    """End every session of the account; its API keys still authenticate afterwards."""
    await revoke_account_sessions(deps.revocation, account.id)
    await deps.audit.record(
        "account.sessions_revoked", "ok", ctx, username=account.username, account_id=account.id
    )


async def revoke_any_session(deps: AccountDeps, ticket: str, ctx: RequestContext) -> None:
    """End one session by ticket, stored yet or not (revocations match tokens, not rows)."""
    session = await deps.revocation.sessions.by_ticket(ticket)
    await revoke_ticket(deps.revocation.revocations, ticket, session)
    await deps.audit.record(
        "session.revoked",
        "ok",
        ctx,
        account_id=session.account_id if session else None,
        ticket=ticket,
    )
