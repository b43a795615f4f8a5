"""``/client/password/change`` and ``/client/sessions/*``: a person's own account.

Dashboard sessions only: an API-key token gets 403, so a leaked key can neither see where
its owner logs in from nor end the owner's sessions.
"""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.http.bodies import OwnSessionRevoke, PasswordChange, SessionSearch
from xpay_auth.http.caller import authorized
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.replies import PasswordChanged, SessionRevoked
from xpay_auth.http.views import session_view
from xpay_auth.http.wire import parse
from xpay_auth.services import own_sessions
from xpay_auth.services.password_change import change_password


async def password_change_call(call: Call) -> Reply:
    """Set a new password after proving the current one; other sessions end at once."""
    caller = await authorized(call, dashboard_only=True)
    request = parse(PasswordChange, call.body)
    await change_password(
        call.services.password_change,
        caller.account,
        current_password=request.current_password,
        new_password=request.new_password,
        current_ticket=caller.claims.ticket,
        ctx=caller.ctx,
    )
    data: PasswordChanged = {"changed": True, "otherSessionsRevoked": True}
    return Reply("Password changed", data)


async def sessions_search_call(call: Call) -> Reply:
    """A page of the caller's live sessions, newest first, the calling one marked current."""
    caller = await authorized(call, dashboard_only=True)
    request = page_request(parse(SessionSearch, call.body))
    page = await own_sessions.list_live_sessions(
        call.database.sessions, caller.account, offset=request.offset, limit=request.limit
    )
    items = [session_view(session, caller.claims.ticket) for session in page.items]
    return Reply("Sessions", page_data(request, items, page.total))


async def sessions_revoke_call(call: Call) -> Reply:
    """End one of the caller's sessions; another account's ticket answers not found."""
    caller = await authorized(call, dashboard_only=True)
    ticket = parse(OwnSessionRevoke, call.body).ticket
    await own_sessions.revoke_own_session(
        call.services.own_sessions,
        caller.account,
        ticket,
        current_ticket=caller.claims.ticket,
        ctx=caller.ctx,
    )
    data: SessionRevoked = {
        "ticket": ticket,
        "revoked": True,
        "current": ticket == caller.claims.ticket,
    }
    return Reply("Session revoked", data)


routes = [
    Route("/client/password/change", json_endpoint(password_change_call), methods=["POST"]),
    Route(
        "/client/sessions/search",
        json_endpoint(sessions_search_call, allow_empty=True),
        methods=["POST"],
    ),
    Route("/client/sessions/revoke", json_endpoint(sessions_revoke_call), methods=["POST"]),
]
