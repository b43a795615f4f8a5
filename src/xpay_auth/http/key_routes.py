"""``/client/keys/*``: a person manages the API keys of their own account.

Only a dashboard session (a password login) may call these: an API-key token gets 403, so
a leaked key cannot mint, rotate or revoke keys.
"""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.errors import InvalidField
from xpay_auth.http import fields
from xpay_auth.http.caller import Caller, authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.views import key_view
from xpay_auth.logs import now_ms
from xpay_auth.services import api_keys
from xpay_auth.services.api_keys import KeySort

# The wire names of the sort fields; a leading "-" orders descending.
_SORTS = {
    "createdAt": KeySort.CREATED,
    "name": KeySort.NAME,
    "expiresAt": KeySort.EXPIRES,
    "lastUsedAt": KeySort.LAST_USED,
}
_DEFAULT_SORT = "-createdAt"
_MAX_KEY_ID = 64
_MAX_CIDR_TEXT = 64


async def _owner(call: Call) -> Caller:
    return await authorized(call, dashboard_only=True)


def _sort(call: Call) -> tuple[KeySort, bool]:
    raw = fields.text(call.body, "sort", max_length=20, required=False) or _DEFAULT_SORT
    descending = raw.startswith("-")
    field = _SORTS.get(raw.removeprefix("-"))
    if field is None:
        choices = ", ".join(f"{name}, -{name}" for name in _SORTS)
        raise InvalidField("sort", f"must be one of {choices}")
    return field, descending


def _key_id(call: Call) -> str:
    return fields.required_text(call.body, "id", max_length=_MAX_KEY_ID)


async def create_call(call: Call) -> Reply:
    """Issue a new API key for the caller's account; its secret is answered this once."""
    caller = await _owner(call)
    name = fields.required_text(call.body, "name", max_length=api_keys.MAX_NAME_LENGTH).strip()
    if not name:
        raise InvalidField("name", "is required")
    issued = await api_keys.create_key(
        call.runtime,
        caller.account,
        name=name,
        scopes=fields.text_list(call.body, "scopes"),
        expires_in_days=fields.integer(
            call.body, "expiresInDays", minimum=1, maximum=api_keys.MAX_EXPIRY_DAYS
        ),
        allowed_cidrs=fields.text_list(
            call.body, "allowedCidrs", max_items=api_keys.MAX_CIDRS, max_length=_MAX_CIDR_TEXT
        )
        or (),
        ctx=caller.ctx,
    )
    return Reply("API key created", {"secretKey": issued.secret, **key_view(issued.key, now_ms())})


async def search_call(call: Call) -> Reply:
    """A page of the caller's keys, revoked and expired ones included, newest first."""
    caller = await _owner(call)
    request = page_request(call.body)
    sort, descending = _sort(call)
    page = await api_keys.list_keys(
        call.runtime,
        caller.account,
        offset=request.offset,
        limit=request.limit,
        newest_first=descending,
        sort=sort,
    )
    now = now_ms()
    return Reply(
        "API keys", page_data(request, [key_view(key, now) for key in page.items], page.total)
    )


async def revoke_call(call: Call) -> Reply:
    """Revoke one of the caller's keys: it and every session opened with it stop at once."""
    caller = await _owner(call)
    key = await api_keys.require_key(call.runtime, _key_id(call), account=caller.account)
    await api_keys.revoke_key(call.runtime, key, caller.ctx)
    revoked = await api_keys.require_key(call.runtime, key.id)
    return Reply("API key revoked", key_view(revoked, now_ms()))


async def rotate_call(call: Call) -> Reply:
    """Give a live key a new secret; the old one keeps working for ``graceSeconds``."""
    caller = await _owner(call)
    grace = fields.integer(
        call.body,
        "graceSeconds",
        minimum=0,
        maximum=api_keys.MAX_GRACE_SECONDS,
        default=api_keys.DEFAULT_GRACE_SECONDS,
    )
    key = await api_keys.require_key(call.runtime, _key_id(call), account=caller.account)
    issued = await api_keys.rotate_key(call.runtime, key, grace_seconds=grace or 0, ctx=caller.ctx)
    return Reply("API key rotated", {"secretKey": issued.secret, **key_view(issued.key, now_ms())})


routes = [
    Route("/client/keys/create", json_endpoint(create_call), methods=["POST"]),
    Route("/client/keys/search", json_endpoint(search_call, allow_empty=True), methods=["POST"]),
    Route("/client/keys/revoke", json_endpoint(revoke_call), methods=["POST"]),
    Route("/client/keys/rotate", json_endpoint(rotate_call), methods=["POST"]),
]
