"""Errors of the OAuth 2.0 token endpoint, answered as RFC 6749 section 5.2 says.

Standard clients read ``error`` as a code at the top level of the body, so these answers
are not the service's envelope; they still carry the request ``uuid`` (as a body member
and a header) and the error's ``tag``, under which the details are logged.

    OAuthError                     the parameters of the request are wrong
    ├── InvalidRequest             400 invalid_request: missing, repeated or malformed
    ├── InvalidClient              401 invalid_client: client authentication failed
    ├── InvalidScope               400 invalid_scope: ``scope`` is malformed
    └── UnsupportedGrantType       400 unsupported_grant_type: not client_credentials

The errors of the authenticate service and of the body rules are answered in the same
form by :func:`oauth_error_response`: refused credentials as invalid_client (401), scopes
beyond the key's as invalid_scope, throttling as 429 with ``Retry-After``, a body too
large as 413 and the wrong content type as 415 (both invalid_request), storage failures as
503 and anything unexpected as 500 (temporarily_unavailable and server_error, the codes of
section 4.1.2.1).
"""

from __future__ import annotations

import re
from typing import ClassVar

from starlette.responses import Response

from xpay_auth.contract import BASE_HEADERS, JSON_MEDIA_TYPE, dumps, log_failure
from xpay_auth.errors import (
    InvalidCredentials,
    ScopeNotGranted,
    TooManyRequests,
    XpayAuthError,
)

REALM = "xpay-auth"
# RFC 6749 section 2.3.1: a failed Basic authentication is answered with a Basic challenge.
# The challenge also goes with every other 401, which HTTP requires (RFC 9110 section 15.5.2).
CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
# RFC 6749 section 5.2: error_description takes %x20-21 / %x23-5B / %x5D-7E only.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(XpayAuthError):
    status = 400
    code: ClassVar[str] = "invalid_request"
    # The audit trail's outcome column holds 20 characters.
    outcome: ClassVar[str] = "invalid_request"
    message = "invalid request"

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message=message, detail=detail)


class InvalidRequest(OAuthError):
    """RFC 6749 section 5.2: a parameter is missing, repeated, malformed or unsupported."""


class InvalidClient(OAuthError):
    """RFC 6749 section 5.2: no client authentication, or it failed."""

    status = 401
    code = "invalid_client"
    outcome = "invalid_client"
    message = "client authentication failed"


class InvalidScope(OAuthError):
    """RFC 6749 section 5.2: the requested scope is malformed."""

    code = "invalid_scope"
    outcome = "invalid_scope"
    message = "scope is malformed"


class UnsupportedGrantType(OAuthError):
    """RFC 6749 section 5.2: the grant type is not one this server issues tokens for."""

    code = "unsupported_grant_type"
    outcome = "unsupported_grant"
    message = "only grant_type client_credentials is supported"


# The authenticate service's refusals, as the token endpoint answers them.
_REFUSALS: dict[type[XpayAuthError], tuple[int, str, str]] = {
    InvalidCredentials: (401, InvalidClient.code, InvalidClient.message),
    ScopeNotGranted: (400, InvalidScope.code, "scope exceeds the scopes of the key"),
}


def _answer(error: XpayAuthError) -> tuple[int, str, str, dict[str, str]]:
    """The status, code, description and extra headers an error is answered with."""
    if isinstance(error, OAuthError):
        headers = CHALLENGE if error.status == 401 else {}  # noqa: PLR2004
        return error.status, error.code, error.client_message, headers
    refusal = _REFUSALS.get(type(error))
    if refusal is not None:
        status, code, description = refusal
        return status, code, description, CHALLENGE if status == 401 else {}  # noqa: PLR2004
    if isinstance(error, TooManyRequests):
        return 429, "temporarily_unavailable", error.client_message, error.headers
    if error.status >= 500:  # noqa: PLR2004
        code = "temporarily_unavailable" if error.status == 503 else "server_error"  # noqa: PLR2004
        # A 503 keeps its Retry-After: every storage failure tells the client when to retry.
        retry = error.headers if error.status == 503 else {}  # noqa: PLR2004
        return error.status, code, error.client_message, retry
    # The body rules: 400 (a body not received in time), 413, 415.
    return error.status, InvalidRequest.code, error.client_message, error.headers


def oauth_error_response(request_id: str, error: XpayAuthError, *, path: str) -> Response:
    """Log ``error`` under its tag and answer it as RFC 6749 section 5.2 says."""
    status, code, description, headers = _answer(error)
    log_failure(request_id, error, path=path, status=status)
    body = {
        "error": code,
        "error_description": _NOT_DESCRIPTION.sub("?", description),
        "tag": error.tag,
        "uuid": request_id,
    }
    return Response(
        dumps(body),
        status,
        headers={**BASE_HEADERS, **headers, "uuid": request_id},
        media_type=JSON_MEDIA_TYPE,
    )
