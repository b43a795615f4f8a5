"""``/client/keys/*``: a person manages the API keys of their own account.

Only a dashboard session (a password login) may call these: an API-key token gets 403, so
a leaked key cannot mint, rotate or revoke keys.
"""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.http.bodies import KeyCreate, KeyRevoke, KeyRotate, KeySearch
from xpay_auth.http.caller import Caller, authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.replies import IssuedApiKey
from xpay_auth.http.views import key_view
from xpay_auth.http.wire import parse
from xpay_auth.logs import now_ms
from xpay_auth.services import api_keys
from xpay_auth.services.api_keys import KeySort

# What each wire name of bodies.KEY_SORT_FIELDS sorts by.
_SORTS = {
    "createdAt": KeySort.CREATED,
    "name": KeySort.NAME,
    "expiresAt": KeySort.EXPIRES,
    "lastUsedAt": KeySort.LAST_USED,
}


async def _owner(call: Call) -> Caller:
    return await authorized(call, dashboard_only=True)


def _issued(issued: api_keys.IssuedKey) -> IssuedApiKey:
    return {"secretKey": issued.secret, **key_view(issued.key, now_ms())}


async def create_call(call: Call) -> Reply:
    """Issue a new API key for the caller's account; its secret is answered this once."""
    caller = await _owner(call)
    request = parse(KeyCreate, call.body)
    issued = await api_keys.create_key(
        call.services.keys,
        caller.account,
        name=request.name,
        scopes=request.scopes,
        expires_in_days=request.expires_in_days,
        allowed_cidrs=request.allowed_cidrs or (),
        ctx=caller.ctx,
    )
    return Reply("API key created", _issued(issued))


async def search_call(call: Call) -> Reply:
    """A page of the caller's keys, revoked and expired ones included, newest first."""
    caller = await _owner(call)
    body = parse(KeySearch, call.body)
    request = page_request(body)
    page = await api_keys.list_keys(
        call.database.api_keys,
        caller.account,
        offset=request.offset,
        limit=request.limit,
        newest_first=body.sort.startswith("-"),
        sort=_SORTS[body.sort.removeprefix("-")],
    )
    now = now_ms()
    return Reply(
        "API keys", page_data(request, [key_view(key, now) for key in page.items], page.total)
    )


async def revoke_call(call: Call) -> Reply:
    """Revoke one of the caller's keys: it and every session opened with it stop at once."""
    caller = await _owner(call)
    key_id = parse(KeyRevoke, call.body).id
    key = await api_keys.require_key(call.database.api_keys, key_id, account=caller.account)
    await api_keys.revoke_key(call.services.keys, key, caller.ctx)
    revoked = await api_keys.require_key(call.database.api_keys, key.id)
    return Reply("API key revoked", key_view(revoked, now_ms()))


async def rotate_call(call: Call) -> Reply:
    """Give a live key a new secret; the old one keeps working for ``graceSeconds``."""
    caller = await _owner(call)
    request = parse(KeyRotate, call.body)
    key = await api_keys.require_key(call.database.api_keys, request.id, account=caller.account)
    issued = await api_keys.rotate_key(
        call.services.keys, key, grace_seconds=request.grace_seconds, ctx=caller.ctx
    )
    return Reply("API key rotated", _issued(issued))


routes = [
    Route("/client/keys/create", json_endpoint(create_call), methods=["POST"]),
    Route("/client/keys/search", json_endpoint(search_call, allow_empty=True), methods=["POST"]),
    Route("/client/keys/revoke", json_endpoint(revoke_call), methods=["POST"]),
    Route("/client/keys/rotate", json_endpoint(rotate_call), methods=["POST"]),
]
