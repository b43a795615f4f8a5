"""``/client/authenticate``, ``/client/session``, ``/client/logout``."""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.domain import normalize_username
from xpay_auth.errors import InvalidField
from xpay_auth.http import fields
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.security.api_keys import MAX_SECRET_LENGTH
from xpay_auth.security.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from xpay_auth.services import sessions
from xpay_auth.services.accounts import MAX_USERNAME_LENGTH
from xpay_auth.services.authenticate import Credentials, authenticate

# Long enough for any password or key we accept; longer input is refused before any work.
_MAX_SECRET = max(MAX_PASSWORD_LENGTH * 4, MAX_SECRET_LENGTH)


async def authenticate_call(call: Call) -> Reply:
    """Trade a username and an API key or password for an access token."""
    body = call.body
    try:
        username = fields.required_text(body, "username", max_length=MAX_USERNAME_LENGTH + 64)
        secret = fields.required_text(body, "secretKey", max_length=_MAX_SECRET)
        is_api = fields.flag(body, "isAPI")
    except InvalidField as refused:
        # A malformed attempt is still an attempt: the audit trail keeps it.
        typed = body.get("username")
        call.runtime.audit.record(
            "login.failed",
            "invalid_request",
            call.ctx,
            username=normalize_username(typed) if isinstance(typed, str) else None,
            error_tag=refused.tag,
            detail={"field": refused.field},
        )
        raise
    login = await authenticate(
        call.runtime, Credentials(normalize_username(username), secret, is_api), call.ctx
    )
    return Reply(
        "Authenticated",
        {
            "success": True,
            "expiresAt": login.expires_at_ms,
            "user": {
                "username": login.username,
                "scopes": list(login.scopes),
                "isAPI": login.is_api,
            },
            "ticket": login.ticket,
            "access_token": login.access_token,
        },
    )


async def session_call(call: Call) -> Reply:
    """Describe the session behind the bearer token."""
    claims = await sessions.authorize(call.runtime, call.authorization)
    return Reply(
        "Session",
        {
            "user": {
                "username": claims.username,
                "scopes": list(claims.scopes),
                "isAPI": claims.is_api,
            },
            "ticket": claims.ticket,
            "keyId": claims.key_id,
            "issuedAt": claims.issued_at * 1000,
            "expiresAt": claims.expires_at * 1000,
        },
    )


async def logout_call(call: Call) -> Reply:
    """Revoke the bearer token's session: every token of its ticket stops working."""
    claims = await sessions.authorize(call.runtime, call.authorization)
    await sessions.logout(call.runtime, claims, call.ctx)
    return Reply("Logged out", {"ticket": claims.ticket, "revoked": True})


routes = [
    Route("/client/authenticate", json_endpoint(authenticate_call), methods=["POST"]),
    Route("/client/session", json_endpoint(session_call, allow_empty=True), methods=["POST"]),
    Route("/client/logout", json_endpoint(logout_call, allow_empty=True), methods=["POST"]),
]
