"""``/client/authenticate``, ``/client/session``, ``/client/logout``."""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.domain import normalize_username
from xpay_auth.errors import InvalidField
from xpay_auth.http.bodies import Authenticate
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.replies import LoggedOut, Login, SessionInfo
from xpay_auth.http.wire import parse
from xpay_auth.services import sessions
from xpay_auth.services.authenticate import Credentials, authenticate


async def authenticate_call(call: Call) -> Reply:
    """Trade a username and an API key or password for an access token."""
    body = call.body
    try:
        request = parse(Authenticate, body)
    except InvalidField as refused:
        # A malformed attempt is still an attempt: the audit trail keeps it.
        typed = body.get("username")
        await call.runtime.audit.record(
            "login.failed",
            "invalid_request",
            call.ctx,
            username=normalize_username(typed) if isinstance(typed, str) else None,
            error_tag=refused.tag,
            detail={"field": refused.field},
        )
        raise
    credentials = Credentials(
        normalize_username(request.username), request.secret_key, request.is_api
    )
    login = await authenticate(call.services.login, credentials, call.ctx)
    data: Login = {
        "success": True,
        "expiresAt": login.expires_at_ms,
        "user": {
            "username": login.username,
            "scopes": list(login.scopes),
            "isAPI": login.is_api,
        },
        "ticket": login.ticket,
        "access_token": login.access_token,
    }
    return Reply("Authenticated", data)


async def session_call(call: Call) -> Reply:
    """Describe the session behind the bearer token."""
    claims = await sessions.authorize(call.services.sessions, call.authorization)
    data: SessionInfo = {
        "user": {
            "username": claims.username,
            "scopes": list(claims.scopes),
            "isAPI": claims.is_api,
        },
        "ticket": claims.ticket,
        "keyId": claims.key_id,
        "issuedAt": claims.issued_at * 1000,
        "expiresAt": claims.expires_at * 1000,
    }
    return Reply("Session", data)


async def logout_call(call: Call) -> Reply:
    """Revoke the bearer token's session: every token of its ticket stops working."""
    claims = await sessions.authorize(call.services.sessions, call.authorization)
    await sessions.logout(call.services.sessions, claims, call.ctx)
    data: LoggedOut = {"ticket": claims.ticket, "revoked": True}
    return Reply("Logged out", data)


routes = [
    Route("/client/authenticate", json_endpoint(authenticate_call), methods=["POST"]),
    Route("/client/session", json_endpoint(session_call, allow_empty=True), methods=["POST"]),
    Route("/client/logout", json_endpoint(logout_call, allow_empty=True), methods=["POST"]),
]
