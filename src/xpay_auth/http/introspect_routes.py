"""``POST /oauth/introspect``: token introspection for the platform's services (RFC 7662).

The caller authenticates with its own bearer token carrying ``tme_introspect`` or
``tme_admin`` (RFC 7662 section 2.1 requires the endpoint to be protected). The token to
examine comes as ``token=...`` in a form body, as section 2.1 specifies, or as ``{"token":
...}`` in a JSON body like every other call of this service.

Success is the bare RFC 7662 section 2.2 object, not the envelope: introspection clients
read ``active`` at the top level. Failures of the call itself (400, 401, 403, 413, 415, 5xx)
keep the envelope, as on every call; the request ``uuid`` also comes back as a header.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.contract import (
    BASE_HEADERS,
    JSON_MEDIA_TYPE,
    check_content_type,
    parse_json_object,
    request_uuid,
)
from xpay_auth.domain import Scope
from xpay_auth.errors import (
    BadRequest,
    Forbidden,
    UnsupportedMediaType,
)
from xpay_auth.http.endpoint import failure_response, read_body
from xpay_auth.runtime import Runtime
from xpay_auth.services import sessions
from xpay_auth.services.introspection import introspect

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_ALLOWED_SCOPES = (Scope.INTROSPECT.value, Scope.ADMIN.value)
# token and token_type_hint are all RFC 7662 defines; a few more are tolerated and ignored.
_MAX_FORM_FIELDS = 16


def _missing_token(reason: str) -> BadRequest:
    return BadRequest({"field": "token", "reason": reason}, message="invalid field: token")


def _form_token(raw: bytes) -> str:
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=_MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(message="body is not a valid form", detail=str(exc)[:200]) from exc
    values = [value for name, value in pairs if name == "token"]
    # RFC 6749 section 3.1: a request parameter must not appear more than once.
    if len(values) > 1:
        raise _missing_token("must appear once")
    return values[0] if values else ""


def _json_token(raw: bytes) -> str:
    token = parse_json_object(raw).get("token")
    if token is not None and not isinstance(token, str):
        raise _missing_token("must be a string")
    return token or ""


def token_from_body(raw: bytes, content_type: str | None) -> str:
    """The ``token`` of a form or JSON body; any other content type is refused (415)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == FORM_MEDIA_TYPE:
        token = _form_token(raw)
    else:
        try:
            check_content_type(content_type, body_present=bool(raw))
        except UnsupportedMediaType as exc:
            raise UnsupportedMediaType(
                message=f"content type must be {FORM_MEDIA_TYPE} or {JSON_MEDIA_TYPE}",
                detail=exc.detail,
            ) from exc
        token = _json_token(raw) if raw.strip() else ""
    if not token:
        raise _missing_token("is required")
    return token


async def _authorize(runtime: Runtime, authorization: str | None) -> None:
    claims = await sessions.authorize(runtime.services.sessions, authorization)
    if not any(scope in claims.scopes for scope in _ALLOWED_SCOPES):
        raise Forbidden(
            required=Scope.INTROSPECT.value, detail="token lacks an introspection scope"
        )


async def introspect_endpoint(request: Request) -> Response:
    """Answer whether a token is active and, if so, its claims (RFC 7662 section 2.2)."""
    rid = request_uuid(request.headers.get("uuid"))
    path = request.url.path
    try:
        runtime: Runtime = request.app.state.runtime
        await _authorize(runtime, request.headers.get("authorization"))
        raw = await read_body(
            request, runtime.settings.max_body_bytes, timeout=runtime.settings.body_timeout
        )
        token = token_from_body(raw, request.headers.get("content-type"))
        verdict = await introspect(runtime.services.introspection, token)
    except Exception as exc:  # noqa: BLE001  the contract: never a stack trace
        return failure_response(rid, exc, path=path)
    body = json.dumps(verdict, separators=(",", ":")).encode()
    return Response(body, 200, headers={**BASE_HEADERS, "uuid": rid}, media_type=JSON_MEDIA_TYPE)


routes = [Route("/oauth/introspect", introspect_endpoint, methods=["POST"])]
