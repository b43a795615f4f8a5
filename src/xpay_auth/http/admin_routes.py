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
from xpay_auth.errors import InvalidField
from xpay_auth.http import fields
from xpay_auth.http.account_routes import ticket_field
from xpay_auth.http.caller import Caller, authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.views import account_view, key_view
from xpay_auth.logs import now_ms
from xpay_auth.security.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from xpay_auth.services import accounts, administration, api_keys, lockout

_MAX_USERNAME_TEXT = accounts.MAX_USERNAME_LENGTH + 64


async def _operator(call: Call) -> Caller:
    """An operator's token, dashboard session or API key: for calls that take access away."""
    return await authorized(call, scope=Scope.ADMIN.value)


async def _operator_in_person(call: Call) -> Caller:
    """An operator's dashboard session: for calls that create or change credentials."""
    return await authorized(call, scope=Scope.ADMIN.value, dashboard_only=True)


async def _reader(call: Call) -> Caller:
    """Any operator token, or one with the read-only scope."""
    return await authorized(call, scope=Scope.ADMIN_READ.value, also=(Scope.ADMIN.value,))


def _username(call: Call) -> str:
    return fields.required_text(call.body, "username", max_length=_MAX_USERNAME_TEXT)


async def users_create_call(call: Call) -> Reply:
    """Create an account, with a password or without one (API keys only)."""
    caller = await _operator_in_person(call)
    account = await accounts.create_account(
        call.runtime,
        _username(call),
        scopes=fields.text_list(call.body, "scopes") or (Scope.USER.value,),
        password=fields.text(
            call.body, "password", max_length=MAX_PASSWORD_LENGTH * 4, required=False
        ),
        ctx=caller.ctx,
    )
    return Reply("Account created", account_view(account))


async def users_search_call(call: Call) -> Reply:
    """A page of accounts whose username contains ``query``, newest first."""
    await _reader(call)
    request = page_request(call.body)
    query = fields.text(call.body, "query", max_length=accounts.MAX_USERNAME_LENGTH, required=False)
    page = await accounts.search_accounts(
        call.runtime,
        query=(query or "").strip().lower() or None,
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
    account = await accounts.require_account(call.runtime, _username(call))
    disabled = fields.flag(call.body, "disabled") if call.body.get("disabled") is not None else None
    unlock = call.body.get("unlockPassword") is not None and fields.flag(
        call.body, "unlockPassword"
    )
    updated = await administration.update_account(
        call.runtime,
        account,
        scopes=fields.text_list(call.body, "scopes"),
        disabled=disabled,
        operator_id=caller.account.id,
        ctx=caller.ctx,
    )
    if unlock:
        await lockout.unlock_password(call.runtime, updated, caller.ctx)
        updated = replace(updated, failed_password_attempts=0)
    return Reply("Account updated", account_view(updated))


async def sessions_revoke_call(call: Call) -> Reply:
    """End one session by ``ticket``, or every session of ``username``."""
    caller = await _operator(call)
    has_ticket = call.body.get("ticket") is not None
    has_username = call.body.get("username") is not None
    if has_ticket == has_username:
        raise InvalidField("ticket", "give either ticket or username")
    if has_ticket:
        ticket = ticket_field(call)
        await administration.revoke_any_session(call.runtime, ticket, caller.ctx)
        return Reply("Session revoked", {"ticket": ticket, "revoked": True})
    account = await accounts.require_account(call.runtime, _username(call))
    await administration.revoke_all_sessions(call.runtime, account, caller.ctx)
    return Reply("Sessions revoked", {"username": account.username, "revoked": True})


async def keys_revoke_call(call: Call) -> Reply:
    """Revoke any account's key: it and every session opened with it stop at once."""
    caller = await _operator(call)
    key_id = fields.required_text(call.body, "id", max_length=64)
    key = await api_keys.require_key(call.runtime, key_id)
    await api_keys.revoke_key(call.runtime, key, caller.ctx)
    revoked = await api_keys.require_key(call.runtime, key.id)
    return Reply(
        "API key revoked", {**key_view(revoked, now_ms()), "accountId": revoked.account_id}
    )


routes = [
    Route("/admin/users/create", json_endpoint(users_create_call), methods=["POST"]),
    Route(
        "/admin/users/search", json_endpoint(users_search_call, allow_empty=True), methods=["POST"]
    ),
    Route("/admin/users/update", json_endpoint(users_update_call), methods=["POST"]),
    Route("/admin/sessions/revoke", json_endpoint(sessions_revoke_call), methods=["POST"]),
    Route("/admin/keys/revoke", json_endpoint(keys_revoke_call), methods=["POST"]),
]
