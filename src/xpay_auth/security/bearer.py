"""Reading the bearer token out of an ``Authorization`` header (RFC 6750 section 2.1).

Shared by the service and by ``xpay_auth.guard`` so both refuse the same headers.
"""

from __future__ import annotations

import re

from xpay_auth.errors import Unauthorized

# RFC 6750 section 2.1: "Bearer" 1*SP b64token.
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def bearer_token(authorization: str | None) -> str:
    """The token of a ``Bearer`` header; :class:`Unauthorized` when missing or malformed.

    A missing token gets the same ``invalid_token`` challenge as a bad one: the client
    contract asks for it on every 401, which RFC 6750 section 3.1 allows (it only
    suggests leaving the code out).
    """
    if not authorization:
        raise Unauthorized(detail="no bearer token")
    match = _BEARER.fullmatch(authorization.strip())
    if match is None:
        raise Unauthorized(detail="malformed Authorization header")
    return match[1]
