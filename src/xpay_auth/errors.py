"""The errors a request can end in, each rendered by ``contract`` in the error envelope.

Clients see ``message`` and ``data``; ``detail`` goes to the log only, under the error's tag.

    XpayAuthError                      (abstract root; status decides how it is answered)
    ├── BusinessError                  200: the call was understood and refused
    │   ├── InvalidCredentials         every wrong-credential case of authenticate, alike
    │   ├── InvalidField               a missing or ill-typed field, named in ``data``
    │   ├── ScopeNotGranted            an OAuth client asked for scopes its key lacks
    │   └── NotFound                   the object named by the call does not exist
    ├── BadRequest                     400: the body is not a JSON object
    ├── Unauthorized                   401: bearer missing, malformed, expired, revoked, forged
    ├── Forbidden                      403: the token lacks a scope or kind the call needs
    ├── RouteNotFound                  404
    ├── MethodNotAllowed               405
    ├── PayloadTooLarge                413
    ├── UnsupportedMediaType           415
    ├── TooManyRequests                429, with Retry-After
    ├── InternalError                  500: anything unexpected; details never leave the log
    └── StorageUnavailable             503, with Retry-After
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from xpay_auth import randomness

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class XpayAuthError(Exception):
    status: ClassVar[int] = 500
    message: ClassVar[str] = "internal error"

    def __init__(
        self,
        data: Any = None,
        *,
        message: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.data = data
        self.client_message = message or self.message
        self.detail = detail
        self.headers = headers or {}
        # Made here, not when rendered, so the audit trail can record the same tag.
        self.tag = randomness.uuid4()
        super().__init__(detail or self.client_message)


class BusinessError(XpayAuthError):
    status = 200
    message = "request refused"


class InvalidCredentials(BusinessError):
    message = "invalid credentials"

    def __init__(self, *, detail: str | None = None) -> None:
        super().__init__({"invalid": True}, detail=detail)


class InvalidField(BusinessError):
    message = "invalid field"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__({"field": field, "reason": reason}, message=f"invalid field: {field}")
        self.field = field
        self.reason = reason


class ScopeNotGranted(BusinessError):
    """RFC 6749 section 5.2, invalid_scope: more than the credentials grant was asked."""

    message = "scope not granted"


class NotFound(BusinessError):
    message = "not found"


class BadRequest(XpayAuthError):
    status = 400
    message = "body is not a JSON object"


class Unauthorized(XpayAuthError):
    """RFC 6750 section 3.1: invalid_token, answered with a WWW-Authenticate challenge."""

    status = 401
    message = "invalid or missing access token"

    def __init__(self, *, detail: str | None = None, error: str = "invalid_token") -> None:
        challenge = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__(
            {"invalid_token": True}, detail=detail, headers={"WWW-Authenticate": challenge}
        )


class Forbidden(XpayAuthError):
    """RFC 6750 section 3.1: insufficient_scope."""

    status = 403
    message = "insufficient scope"

    def __init__(self, *, required: str, detail: str | None = None) -> None:
        # The challenge's scope attribute takes scope tokens only (RFC 6750 section 3);
        # a requirement that is not a scope, such as a dashboard session, goes without it.
        challenge = 'Bearer error="insufficient_scope"'
        if _SCOPE_TOKEN.fullmatch(required):
            challenge += f', scope="{required}"'
        super().__init__(
            {"required": required}, detail=detail, headers={"WWW-Authenticate": challenge}
        )


class RouteNotFound(XpayAuthError):
    status = 404
    message = "not found"


class MethodNotAllowed(XpayAuthError):
    status = 405
    message = "method not allowed"


class PayloadTooLarge(XpayAuthError):
    status = 413
    message = "body too large"


class UnsupportedMediaType(XpayAuthError):
    status = 415
    message = "content type must be application/json"


class TooManyRequests(XpayAuthError):
    status = 429
    message = "too many requests"

    def __init__(self, retry_after: int, *, detail: str | None = None) -> None:
        super().__init__(
            {"retryAfter": retry_after}, detail=detail, headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class InternalError(XpayAuthError):
    status = 500
    message = "internal error"


# Seconds a client is asked to wait after a 503: long enough not to hammer a database that
# is coming back, short enough for a restart or fail-over, which the pool survives by itself.
STORAGE_RETRY_AFTER = 2


class StorageUnavailable(XpayAuthError):
    """503 with ``Retry-After`` (RFC 9110 section 10.2.3), for every storage failure."""

    status = 503
    message = "storage unavailable"

    def __init__(self, data: Any = None, *, detail: str | None = None) -> None:
        super().__init__(data, detail=detail, headers={"Retry-After": str(STORAGE_RETRY_AFTER)})
