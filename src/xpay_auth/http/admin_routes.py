"""``/admin/*``: operators (scope ``tme_admin``) manage accounts, sessions and keys.

Calls that create or change credentials (creating an account, changing its scopes, flags
or password lock) take an operator's dashboard session, as key management does: a leaked
operator API key could otherwise create an account with a password, sign in as it and mint
keys. Calls that only take access away (revoking sessions and keys) accept an operator's
API key too, and reads also take the narrower ``tme_admin_read``. Any other token gets 403.
Answers never hold a password hash or a secret hash.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.routing import Route

from xpay_auth.domain import Scope
from xpay_auth.http.bodies import (
    AdminKeyRevoke,
    AdminSessionRevoke,
    UserCreate,
    UserSearch,
    UserUpdate,
)
from xpay_auth.http.caller import Caller, authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.replies import OwnedApiKey, TicketRevoked, UserSessionsRevoked
from xpay_auth.http.views import account_view, key_view
from xpay_auth.http.wire import parse
from xpay_auth.logs import now_ms
from xpay_auth.services import accounts, administration, api_keys, lockout


async def _operator(call: Call) -> Caller:
    """An operator's token, dashboard session or API key: for calls that take access away."""
    return await authorized(call, scope=Scope.ADMIN.value)


async def _operator_in_person(call: Call) -> Caller:
    """An operator's dashboard session: for calls that create or change credentials."""
    return await authorized(call, scope=Scope.ADMIN.value, dashboard_only=True)


async def _reader(call: Call) -> Caller:
    """Any operator token, or one with the read-only scope."""
    return await authorized(call, scope=Scope.ADMIN_READ.value, also=(Scope.ADMIN.value,))


async def users_create_call(call: Call) -> Reply:
    """Create an account, with a password or without one (API keys only)."""
    caller = await _operator_in_person(call)
    request = parse(UserCreate, call.body)
    account = await accounts.create_account(
        call.services.accounts,
        request.username,
        scopes=request.scopes or (Scope.USER.value,),
        password=request.password,
        ctx=caller.ctx,
    )
    return Reply("Account created", account_view(account))


async def users_search_call(call: Call) -> Reply:
    """A page of accounts whose username contains ``query``, newest first."""
    await _reader(call)
    body = parse(UserSearch, call.body)
    request = page_request(body)
    page = await accounts.search_accounts(
        call.database.accounts,
        query=(body.query or "").strip().lower() or None,
        offset=request.offset,
        limit=request.limit,
    )
    return Reply(
        "Accounts", page_data(request, [account_view(item) for item in page.items], page.total)
    )


async def users_update_call(call: Call) -> Reply:
    """Change an account's scopes or disabled flag, or unlock its password login;
    disabling ends its sessions and keys."""
    caller = await _operator_in_person(call)
    request = parse(UserUpdate, call.body)
    account = await accounts.require_account(call.database.accounts, request.username)
    updated = await administration.update_account(
        call.services.accounts,
        account,
        scopes=request.scopes,
        disabled=request.disabled,
        operator_id=caller.account.id,
        ctx=caller.ctx,
    )
    if request.unlock_password:
        await lockout.unlock_password(call.services.lockout, updated, caller.ctx)
        updated = replace(updated, failed_password_attempts=0)
    return Reply("Account updated", account_view(updated))


async def sessions_revoke_call(call: Call) -> Reply:
    """End one session by ``ticket``, or every session of ``username``."""
    caller = await _operator(call)
    request = parse(AdminSessionRevoke, call.body)
    if request.ticket is not None:
        await administration.revoke_any_session(call.services.accounts, request.ticket, caller.ctx)
        revoked: TicketRevoked = {"ticket": request.ticket, "revoked": True}
        return Reply("Session revoked", revoked)
    # The model allows a missing ticket only with a username.
    account = await accounts.require_account(call.database.accounts, request.username or "")
    await administration.revoke_all_sessions(call.services.accounts, account, caller.ctx)
    ended: UserSessionsRevoked = {"username": account.username, "revoked": True}
    return Reply("Sessions revoked", ended)


async def keys_revoke_call(call: Call) -> Reply:
    """Revoke any account's key: it and every session opened with it stop at once."""
    caller = await _operator(call)
    key = await api_keys.require_key(call.database.api_keys, parse(AdminKeyRevoke, call.body).id)
    await api_keys.revoke_key(call.services.keys, key, caller.ctx)
    revoked = await api_keys.require_key(call.database.api_keys, key.id)
    data: OwnedApiKey = {**key_view(revoked, now_ms()), "accountId": revoked.account_id}
    return Reply("API key revoked", data)


routes = [
    Route("/admin/users/create", json_endpoint(users_create_call), methods=["POST"]),
    Route(
        "/admin/users/search", json_endpoint(users_search_call, allow_empty=True), methods=["POST"]
    ),
    Route("/admin/users/update", json_endpoint(users_update_call), methods=["POST"]),
    Route("/admin/sessions/revoke", json_endpoint(sessions_revoke_call), methods=["POST"]),
    Route("/admin/keys/revoke", json_endpoint(keys_revoke_call), methods=["POST"]),
]
