"""OAuth 2.0 for standard clients: ``POST /oauth/token`` and the server's metadata.

The token endpoint runs the client credentials grant (RFC 6749 section 4.4): the client
is an account, ``client_id`` its username and ``client_secret`` one of its API keys. The
login goes through the authenticate service, so it is throttled, audited and recorded as a
session exactly like ``/client/authenticate`` with ``isAPI`` true, and the token is the
same. ``scope`` may narrow the token to some of the key's scopes (section 3.3).

``GET /.well-known/oauth-authorization-server`` describes the server (RFC 8414).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.contract import BASE_HEADERS, JSON_MEDIA_TYPE, dumps, request_uuid
from xpay_auth.domain import KNOWN_SCOPES, normalize_username
from xpay_auth.errors import BusinessError
from xpay_auth.http.client_ip import client_ip
from xpay_auth.http.endpoint import as_error, read_body
from xpay_auth.http.oauth_errors import (
    InvalidRequest,
    OAuthError,
    UnsupportedGrantType,
    oauth_error_response,
)
from xpay_auth.http.oauth_request import (
    claimed_client_id,
    client_credentials,
    form_parameters,
    requested_scopes,
)
from xpay_auth.request_context import RequestContext
from xpay_auth.runtime import Runtime
from xpay_auth.security.api_keys import PREFIX
from xpay_auth.services.authenticate import Credentials, Login, authenticate

GRANT = "client_credentials"
TOKEN_PATH = "/oauth/token"  # noqa: S105  a path, not a secret
METADATA_PATH = "/.well-known/oauth-authorization-server"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# Grant types are short names or URNs (RFC 6749 section 4.5); anything else is not kept.
_GRANT_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,80}")


def _shown_grant(value: str | None) -> str | None:
    """The grant type as sent, for the audit trail and log, unless it may be a secret."""
    if value is None or not _GRANT_NAME.fullmatch(value) or PREFIX in value.lower():
        return None if value is None else "(unreadable)"
    return value


def _token_response(login: Login, rid: str) -> Response:
    """RFC 6749 section 5.1; section 4.4.3 issues no refresh token for this grant."""
    body = {
        "access_token": login.access_token,
        "token_type": "Bearer",
        "expires_in": max(0, round(login.expires_at_ms / 1000 - time.time())),
        "scope": " ".join(login.scopes),
    }
    return Response(
        dumps(body),
        200,
        headers={**BASE_HEADERS, "uuid": rid},
        media_type=JSON_MEDIA_TYPE,
    )


async def _parameters(request: Request, runtime: Runtime) -> dict[str, str]:
    # RFC 6749 section 2.3.1: credentials must not travel in the URL, where logs keep them.
    query = parse_qsl(request.url.query, keep_blank_values=True)
    if any(name == "client_secret" for name, _ in query):
        raise InvalidRequest("client_secret must not be sent in the URL")
    raw = await read_body(
        request, runtime.settings.max_body_bytes, timeout=runtime.settings.body_timeout
    )
    return form_parameters(raw, request.headers.get("content-type"))


async def _grant(request: Request, runtime: Runtime, ctx: RequestContext) -> Login:
    parameters: dict[str, str] = {}
    try:
        parameters = await _parameters(request, runtime)
        grant = parameters.get("grant_type")
        if grant is None:
            raise InvalidRequest("grant_type is required")
        if grant != GRANT:
            raise UnsupportedGrantType(detail=f"grant_type {_shown_grant(grant)}")
        scopes = requested_scopes(parameters.get("scope"))
        client = client_credentials(request.headers.get("authorization"), parameters)
    except OAuthError as refused:
        # A malformed attempt is still an attempt: the audit trail keeps it.
        typed = claimed_client_id(request.headers.get("authorization"), parameters)
        await runtime.audit.record(
            "login.failed",
            refused.outcome,
            ctx,
            username=normalize_username(typed) if typed is not None else None,
            error_tag=refused.tag,
            detail={
                "isAPI": True,
                "grant": _shown_grant(parameters.get("grant_type")),
                "error": refused.code,
                "reason": refused.client_message,
            },
        )
        raise
    return await authenticate(
        runtime.services.login,
        Credentials(normalize_username(client.client_id), client.secret, is_api=True),
        ctx,
        grant=GRANT,
        requested_scopes=scopes,
    )


async def token_endpoint(request: Request) -> Response:
    """Issue an access token for the client credentials grant (RFC 6749 section 4.4)."""
    started = time.perf_counter()
    rid = request_uuid(request.headers.get("uuid"))
    runtime: Runtime = request.app.state.runtime
    refused = False
    try:
        settings = runtime.settings
        ctx = RequestContext(
            rid, client_ip(request, settings.trusted_proxies, settings.proxy_header)
        )
        response = _token_response(await _grant(request, runtime, ctx), rid)
    except Exception as exc:  # noqa: BLE001  every failure is answered as RFC 6749 section 5.2 says
        error = as_error(rid, exc, path=request.url.path)
        refused = isinstance(error, OAuthError | BusinessError)
        response = oauth_error_response(rid, error, path=request.url.path)
    runtime.metrics.observe(
        "oauth_token", response.status_code, refused=refused, seconds=time.perf_counter() - started
    )
    return response


def _base_url(issuer: str, request: Request) -> str:
    """Where the endpoints are: under the issuer when it is a URL (RFC 8414 section 2),
    else where this request came in."""
    parts = urlsplit(issuer)
    if parts.scheme in {"https", "http"} and parts.netloc and not (parts.query or parts.fragment):
        return issuer.rstrip("/")
    return str(request.base_url).rstrip("/")


def metadata_document(issuer: str, base_url: str) -> dict[str, Any]:
    """RFC 8414 section 2; ``issuer`` is the tokens' ``iss``, as section 3.3 requires."""
    return {
        "issuer": issuer,
        "token_endpoint": f"{base_url}{TOKEN_PATH}",
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "grant_types_supported": [GRANT],
        # Required by section 2; empty, since this server has no authorization endpoint.
        "response_types_supported": [],
        "jwks_uri": f"{base_url}/.well-known/jwks.json",
        "introspection_endpoint": f"{base_url}/oauth/introspect",
        # The introspection caller presents a bearer token (RFC 7662 section 2.1); "Bearer"
        # is a value of the access token types registry, which section 2 allows here.
        "introspection_endpoint_auth_methods_supported": ["Bearer"],
        "scopes_supported": sorted(KNOWN_SCOPES),
        "service_documentation": f"{base_url}/openapi.json",
    }


async def metadata(request: Request) -> Response:
    """This authorization server's metadata (RFC 8414)."""
    runtime: Runtime = request.app.state.runtime
    issuer = runtime.settings.issuer
    # Section 3.1: an issuer with a path is described at the well-known path followed by
    # that path, which a proxy publishing the service under it forwards here.
    suffix = request.path_params.get("suffix")
    if suffix is not None and suffix.strip("/") != urlsplit(issuer).path.strip("/"):
        raise HTTPException(404)
    document = metadata_document(issuer, _base_url(issuer, request))
    return Response(
        dumps(document),
        headers={"Cache-Control": "public, max-age=60", "Vary": "Host"},
        media_type=JSON_MEDIA_TYPE,
    )


routes = [
    Route(TOKEN_PATH, token_endpoint, methods=["POST"]),
    Route(METADATA_PATH, metadata, methods=["GET"]),
    Route(METADATA_PATH + "/{suffix}", metadata, methods=["GET"]),
]
