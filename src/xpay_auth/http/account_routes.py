"""``/client/password/change`` and ``/client/sessions/*``: a person's own account.

Dashboard sessions only: an API-key token gets 403, so a leaked key can neither see where
its owner logs in from nor end the owner's sessions.
"""

from __future__ import annotations

import re

from starlette.routing import Route

from xpay_auth.errors import InvalidField
from xpay_auth.http import fields
from xpay_auth.http.caller import authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.views import session_view
from xpay_auth.security.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from xpay_auth.services import own_sessions
from xpay_auth.services.password_change import change_password

# Room for any password the policy accepts, measured before NFKC normalisation.
_MAX_PASSWORD_TEXT = MAX_PASSWORD_LENGTH * 4
_TICKET = re.compile(r"[0-9a-f]{32}")


def ticket_field(call: Call) -> str:
    ticket = fields.required_text(call.body, "ticket", max_length=64)
    if not _TICKET.fullmatch(ticket):
        raise InvalidField("ticket", "must be 32 lowercase hex characters")
    return ticket


async def password_change_call(call: Call) -> Reply:
    """Set a new password after proving the current one; other sessions end at once."""
    caller = await authorized(call, dashboard_only=True)
    current = fields.required_text(call.body, "currentPassword", max_length=_MAX_PASSWORD_TEXT)
    new = fields.required_text(call.body, "newPassword", max_length=_MAX_PASSWORD_TEXT)
    await change_password(
        call.runtime,
        caller.account,
        current_password=current,
        new_password=new,
        current_ticket=caller.claims.ticket,
        ctx=caller.ctx,
    )
    return Reply("Password changed", {"changed": True, "otherSessionsRevoked": True})


async def sessions_search_call(call: Call) -> Reply:
    """A page of the caller's live sessions, newest first, the calling one marked current."""
    caller = await authorized(call, dashboard_only=True)
    request = page_request(call.body)
    page = await own_sessions.list_live_sessions(
        call.runtime, caller.account, offset=request.offset, limit=request.limit
    )
    items = [session_view(session, caller.claims.ticket) for session in page.items]
    return Reply("Sessions", page_data(request, items, page.total))


async def sessions_revoke_call(call: Call) -> Reply:
    """End one of the caller's sessions; another account's ticket answers not found."""
    caller = await authorized(call, dashboard_only=True)
    ticket = ticket_field(call)
    await own_sessions.revoke_own_session(
        call.runtime, caller.account, ticket, current_ticket=caller.claims.ticket, ctx=caller.ctx
    )
    return Reply(
        "Session revoked",
        {"ticket": ticket, "revoked": True, "current": ticket == caller.claims.ticket},
    )


routes = [
    Route("/client/password/change", json_endpoint(password_change_call), methods=["POST"]),
    Route(
        "/client/sessions/search",
        json_endpoint(sessions_search_call, allow_empty=True),
        methods=["POST"],
    ),
    Route("/client/sessions/revoke", json_endpoint(sessions_revoke_call), methods=["POST"]),
]
