"""Reading a token request: its form parameters, the client's credentials, the scope.

RFC 6749 section 4.4.2 sends ``grant_type`` and ``scope`` form-encoded; the client
authenticates by HTTP Basic (``client_secret_basic``, section 2.3.1) or by ``client_id``
and ``client_secret`` in the body (``client_secret_post``), never by both at once.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from xpay_auth.http.oauth_errors import InvalidClient, InvalidRequest, InvalidScope

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# The parameters this endpoint reads; any other is ignored (RFC 6749 section 3.2).
KNOWN_PARAMETERS = ("grant_type", "scope", "client_id", "client_secret")
_MAX_FORM_FIELDS = 32
_MAX_SCOPE_LENGTH = 1024
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str
    method: str  # client_secret_basic or client_secret_post


class UnsupportedForm(InvalidRequest):
    """The body is not form-encoded: 415, still answered as invalid_request."""

    status = 415
    message = f"content type must be {FORM_MEDIA_TYPE}"


def form_parameters(raw: bytes, content_type: str | None) -> dict[str, str]:
    """The known parameters of a form body, each at most once; empty ones are left out.

    RFC 6749 section 3.1: a parameter without a value is treated as omitted, and none may
    appear more than once.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise UnsupportedForm(detail=f"content type {(content_type or '')[:100]!r}")
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=_MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("body is not a valid form", detail=str(exc)[:200]) from exc
    seen: set[str] = set()
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name not in KNOWN_PARAMETERS:
            continue
        if name in seen:
            raise InvalidRequest(f"{name} must appear once")
        seen.add(name)
        if "\x00" in value:
            raise InvalidRequest(f"{name} must not contain NUL characters")
        if value:
            parameters[name] = value
    return parameters


def requested_scopes(raw: str | None) -> frozenset[str] | None:
    """The scopes a client asks for, or None when it asks for all its key grants."""
    if raw is None:
        return None
    # RFC 6749 section 3.3: space-delimited; runs of spaces are tolerated.
    tokens = [token for token in raw.split(" ") if token]
    if len(raw) > _MAX_SCOPE_LENGTH or not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise InvalidScope
    return frozenset(tokens) or None


def _decode_basic_part(part: str) -> str:
    # Section 2.3.1 form-encodes the id and secret before Basic encodes them; many clients
    # (Authlib, requests) skip that step. Percent escapes are decoded, and "+" is kept as
    # sent: no username or key contains a space, so both kinds of client are understood.
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidClient(detail="basic credentials are not UTF-8") from exc


def _basic(authorization: str) -> ClientCredentials:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient(detail="authorization scheme is not Basic")
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidClient(detail="basic credentials are not base64") from exc
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        # requests and Authlib encode Basic credentials as Latin-1 (RFC 7617 section 2.1).
        text = decoded.decode("latin-1")
    client_id, colon, secret = text.partition(":")
    if not colon or not client_id or not secret or "\x00" in text:
        raise InvalidClient(detail="basic credentials are not id:secret")
    return ClientCredentials(
        _decode_basic_part(client_id), _decode_basic_part(secret), "client_secret_basic"
    )


def claimed_client_id(authorization: str | None, parameters: dict[str, str]) -> str | None:
    """The client id a refused request names, for the audit trail: Basic's, or the body's."""
    if authorization is not None:
        try:
            return _basic(authorization).client_id
        except InvalidClient:
            return None
    return parameters.get("client_id")


def client_credentials(authorization: str | None, parameters: dict[str, str]) -> ClientCredentials:
    """The client's id and secret, from the Authorization header or the body."""
    if authorization is not None:
        credentials = _basic(authorization)
        # RFC 6749 section 2.3: one authentication method per request.
        if "client_secret" in parameters:
            raise InvalidRequest("use either HTTP Basic or client_secret, not both")
        body_id = parameters.get("client_id")
        if body_id is not None and body_id.strip().lower() != credentials.client_id.strip().lower():
            raise InvalidRequest("client_id differs from the authenticated client")
        return credentials
    client_id = parameters.get("client_id")
    secret = parameters.get("client_secret")
    if client_id is None or secret is None:
        raise InvalidClient("client authentication is required", detail="no client credentials")
    return ClientCredentials(client_id, secret, "client_secret_post")
