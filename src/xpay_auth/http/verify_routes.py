"""Gateway forward-auth: ``GET`` and ``POST /auth/verify``.

A gateway (nginx ``auth_request``, Traefik ForwardAuth, Envoy ``ext_authz``) forwards the
client's ``Authorization`` header here before it lets a request through. 200 means "let
it through" and says who is calling in ``X-Auth-*`` headers; 401 and 403 stop it, in the
envelope. Verification is the service's own (``services.sessions.authorize``), with the
revocation check against the database, so a revocation is honoured at once.

The request body is never read: gateways send none, or the client's, which is not ours
to parse. ``?scope=NAME`` (repeatable, or space separated) names scopes the token must
carry.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.contract import request_uuid, success_response
from xpay_auth.errors import BadRequest, Forbidden
from xpay_auth.http.endpoint import failure_response
from xpay_auth.runtime import Runtime
from xpay_auth.security.claims import AccessClaims
from xpay_auth.services import sessions

_SCOPE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_SCOPES = 8
# Header values must be visible ASCII: anything else, and "%" itself, is percent-encoded
# (UTF-8), so plain e-mail addresses travel unchanged and decoding is unambiguous.
_HEADER_SAFE = "".join(
    ch for ch in string.printable if ch.isprintable() and not ch.isspace() and ch != "%"
)


def required_scopes(request: Request) -> tuple[str, ...]:
    """The scopes named by ``?scope=``; a malformed one is a 400, never a pass."""
    scopes = [part for value in request.query_params.getlist("scope") for part in value.split()]
    if len(scopes) > _MAX_SCOPES or not all(_SCOPE.fullmatch(scope) for scope in scopes):
        raise BadRequest(
            message="invalid scope parameter", detail=f"scope={scopes[:_MAX_SCOPES]!r}"
        )
    return tuple(dict.fromkeys(scopes))


def identity_headers(claims: AccessClaims) -> dict[str, str]:
    """Who is calling, for the gateway to pass upstream (``auth_request_set`` in nginx)."""
    headers = {
        "X-Auth-User": quote(claims.username, safe=_HEADER_SAFE),
        "X-Auth-Scopes": " ".join(claims.scopes),
        "X-Auth-Ticket": claims.ticket,
    }
    if claims.key_id is not None:
        headers["X-Auth-Key-Id"] = claims.key_id
    return headers


async def _verify(runtime: Runtime, request: Request) -> AccessClaims:
    scopes = required_scopes(request)
    claims = await sessions.authorize(
        runtime.services.sessions, request.headers.get("authorization")
    )
    missing = [scope for scope in scopes if scope not in claims.scopes]
    if missing:
        required = " ".join(missing)
        raise Forbidden(required=required, detail=f"token lacks {required}")
    return claims


async def verify(request: Request) -> Response:
    """Answer a gateway: 200 with X-Auth-* headers, or 401/403 in the envelope."""
    rid = request_uuid(request.headers.get("uuid"))
    path = request.url.path
    try:
        claims = await _verify(request.app.state.runtime, request)
    except Exception as exc:  # noqa: BLE001  never 200: a gateway must not pass a request unverified
        return failure_response(rid, exc, path=path)
    data = {
        "username": claims.username,
        "scopes": list(claims.scopes),
        "ticket": claims.ticket,
        "isAPI": claims.is_api,
        "keyId": claims.key_id,
        "expiresAt": claims.expires_at * 1000,
    }
    return success_response(rid, "verified", data, identity_headers(claims))


routes = [Route("/auth/verify", verify, methods=["GET", "POST"])]
