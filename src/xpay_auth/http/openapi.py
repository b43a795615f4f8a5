"""The service's OpenAPI 3.1 description, served at ``GET /openapi.json``.

Built from the same limits the code enforces, so the description cannot drift from them.
Every client call answers HTTP 200 for its business outcome, success or refusal alike (the
platform's contract); other statuses are protocol failures, always in the error envelope.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from xpay_auth import __version__
from xpay_auth.domain import KNOWN_SCOPES
from xpay_auth.http import openapi_oauth
from xpay_auth.http.console_routes import CONSOLE_ASSETS
from xpay_auth.http.paging import MAX_PAGE, MAX_PAGE_SIZE

Schema = dict[str, Any]

_INTEGER_MS = {"type": "integer", "description": "milliseconds since the epoch"}
_NULLABLE_MS = {"type": ["integer", "null"], "description": "milliseconds since the epoch"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_TICKET = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "a login session"}
_SCOPES = {"type": "array", "items": {"type": "string"}}
_UUID = {"type": "string", "format": "uuid"}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], *, required: tuple[str, ...] | None = None) -> Schema:
    """An object whose listed properties are all required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


def _page(item: Schema) -> Schema:
    return _object(
        {
            "items": {"type": "array", "items": item},
            "page": {"type": "integer", "minimum": 1},
            "pageSize": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "total": {"type": "integer", "minimum": 0},
            "hasNext": {"type": "boolean"},
        }
    )


def _success(data: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "success": {
                "type": "object",
                "properties": {"message": {"type": "string", "minLength": 1}, "data": data},
                "required": ["message", "data"],
                "additionalProperties": False,
            },
            "uuid": _UUID,
        },
        "required": ["success", "uuid"],
        "additionalProperties": False,
    }


_PAGING = {
    "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    "pageSize": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 20},
}
_USER = _object(
    {
        "username": {"type": "string"},
        "scopes": _SCOPES,
        "isAPI": {"type": "boolean"},
    }
)

SCHEMAS: dict[str, Schema] = {
    "ErrorEnvelope": {
        "type": "object",
        "description": "Every refusal and failure; `tag` is logged with the details.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string", "minLength": 1},
                    "data": {},
                    "tag": _UUID,
                },
                "required": ["message", "data", "tag"],
                "additionalProperties": False,
            },
            "uuid": _UUID,
        },
        "required": ["error", "uuid"],
        "additionalProperties": False,
    },
    "Login": _object(
        {
            "success": {"const": True},
            "expiresAt": {**_INTEGER_MS, "description": "the token's exp times 1000"},
            "user": _USER,
            "ticket": _TICKET,
            "access_token": {"type": "string", "description": "a JWS compact ES256 token"},
        }
    ),
    "Session": _object(
        {
            "user": _USER,
            "ticket": _TICKET,
            "keyId": _NULLABLE_TEXT,
            "issuedAt": _INTEGER_MS,
            "expiresAt": _INTEGER_MS,
        }
    ),
    "ApiKey": _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "prefix": {"type": "string"},
            "scopes": _SCOPES,
            "status": {"enum": ["active", "expired", "revoked"]},
            "createdAt": _INTEGER_MS,
            "expiresAt": _NULLABLE_MS,
            "revokedAt": _NULLABLE_MS,
            "lastUsedAt": _NULLABLE_MS,
            "allowedCidrs": {"type": "array", "items": {"type": "string"}},
            "previousSecretExpiresAt": _NULLABLE_MS,
        }
    ),
    "IssuedApiKey": {
        "allOf": [
            _ref("ApiKey"),
            _object(
                {"secretKey": {"type": "string", "pattern": "^xpsk_", "description": "shown once"}}
            ),
        ]
    },
    "Account": _object(
        {
            "id": {"type": "string"},
            "username": {"type": "string"},
            "scopes": _SCOPES,
            "disabled": {"type": "boolean"},
            "hasPassword": {"type": "boolean"},
            "failedPasswordAttempts": {"type": "integer", "minimum": 0},
            "createdAt": _INTEGER_MS,
        }
    ),
    "SessionSummary": _object(
        {
            "ticket": _TICKET,
            "createdAt": _INTEGER_MS,
            "expiresAt": _INTEGER_MS,
            "isAPI": {"type": "boolean"},
            "keyId": _NULLABLE_TEXT,
            "scopes": _SCOPES,
            "clientIp": _NULLABLE_TEXT,
            "current": {"type": "boolean"},
        }
    ),
    "AuditEvent": _object(
        {
            "id": {"type": "integer"},
            "at": _INTEGER_MS,
            "event": {"type": "string", "examples": ["login.failed"]},
            "outcome": {"type": "string", "examples": ["ok", "refused", "invalid_request"]},
            "username": _NULLABLE_TEXT,
            "accountId": _NULLABLE_TEXT,
            "keyId": _NULLABLE_TEXT,
            "ticket": _NULLABLE_TEXT,
            "clientIp": _NULLABLE_TEXT,
            "requestUuid": _NULLABLE_TEXT,
            "errorTag": _NULLABLE_TEXT,
            "actor": _NULLABLE_TEXT,
            "detail": {"type": ["object", "null"]},
        }
    ),
    "Identity": _object(
        {
            "username": {"type": "string"},
            "scopes": _SCOPES,
            "ticket": _TICKET,
            "isAPI": {"type": "boolean"},
            "keyId": _NULLABLE_TEXT,
            "expiresAt": _INTEGER_MS,
        }
    ),
    "Introspection": {
        "type": "object",
        "description": "RFC 7662 section 2.2: only `active` when the token is not active.",
        "properties": {
            "active": {"type": "boolean"},
            "scope": {"type": "string"},
            "client_id": {"type": "string"},
            "username": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
            "sub": {"type": "string"},
            "aud": {"type": "string"},
            "iss": {"type": "string"},
            "jti": {"type": "string"},
            "sid": _TICKET,
        },
        "required": ["active"],
    },
    "Revocation": _object(
        {
            "kind": {"enum": ["ticket", "key", "account"]},
            "subject": {"type": "string"},
            "notAfter": {"type": ["integer", "null"]},
            "exceptTicket": _NULLABLE_TEXT,
        }
    ),
    "JsonWebKeySet": {
        "type": "object",
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kty": {"const": "EC"},
                        "crv": {"const": "P-256"},
                        "x": {"type": "string"},
                        "y": {"type": "string"},
                        "kid": {"type": "string"},
                        "use": {"const": "sig"},
                        "alg": {"const": "ES256"},
                    },
                    "required": ["kty", "crv", "x", "y", "kid"],
                    "not": {"anyOf": [{"required": ["d"]}]},
                },
            }
        },
        "required": ["keys"],
    },
}

_NO_STORE = {
    "Cache-Control": {
        "description": "Responses may carry tokens: no cache may keep them.",
        "required": True,
        "schema": {"const": "no-store"},
    }
}


def _error(description: str, headers: dict[str, Schema] | None = None) -> Schema:
    return {
        "description": description,
        "headers": {**_NO_STORE, **(headers or {})},
        "content": {"application/json": {"schema": _ref("ErrorEnvelope")}},
    }


_CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'RFC 6750 section 3: `Bearer error="invalid_token"` or `Bearer`',
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer"},
    }
}

RESPONSES: dict[str, Schema] = {
    "BadRequest": _error(
        "The body is not one JSON object (or is invalid UTF-8, too deep, has duplicate keys), "
        "or it or the headers did not arrive in time."
    ),
    "Unauthorized": _error(
        "The bearer token is missing, malformed, expired, revoked or badly signed.", _CHALLENGE
    ),
    "Forbidden": _error(
        "The token lacks the scope, or the kind of session, the call needs.", _CHALLENGE
    ),
    "PayloadTooLarge": _error("The body is over the limit (64 KiB by default)."),
    "UnsupportedMediaType": _error("The content type is not JSON."),
    "TooManyRequests": _error(
        "Too many failed authentications from this address.",
        {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    ),
    "InternalError": _error("Unexpected; the details are in the log under the tag."),
    "StorageUnavailable": _error(
        "The database does not answer; retry after Retry-After seconds.",
        {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    ),
}

_UUID_HEADER = {
    "name": "uuid",
    "in": "header",
    "required": False,
    "description": "A UUID v4 echoed as the body's `uuid`; a fresh one when absent or invalid.",
    "schema": {"type": "string"},
}


def _responses(*names: str) -> dict[str, Schema]:
    statuses = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "PayloadTooLarge": "413",
        "UnsupportedMediaType": "415",
        "TooManyRequests": "429",
        "InternalError": "500",
        "StorageUnavailable": "503",
    }
    return {statuses[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def _call(
    summary: str,
    *,
    tag: str,
    body: Schema,
    data: Schema,
    bearer: str | None = "any session",
    body_required: bool = True,
    throttled: bool = False,
) -> Schema:
    """A POST client call: JSON in, the envelope out, 200 for every business outcome.

    ``bearer`` names the token the call needs (None: no token at all).
    """
    failures = [
        "BadRequest",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "StorageUnavailable",
    ]
    if bearer is not None:
        failures += ["Unauthorized", "Forbidden"]
    if throttled:
        failures.append("TooManyRequests")
    operation: Schema = {
        "summary": summary,
        "tags": [tag],
        "parameters": [_UUID_HEADER],
        "requestBody": {
            "required": body_required,
            "content": {"application/json": {"schema": {"type": "object", **body}}},
        },
        "responses": {
            "200": {
                "description": "The business outcome: success, or a refusal naming its reason.",
                "headers": _NO_STORE,
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [_success(data), _ref("ErrorEnvelope")]}
                    }
                },
            },
            **_responses(*failures),
        },
        "security": [] if bearer is None else [{"bearer": []}],
    }
    if bearer is not None:
        operation["description"] = f"Needs a bearer token: {bearer}."
    return {"post": operation}


def _fields(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"properties": properties, "required": list(required)}


_KEY_ID = {"type": "string", "maxLength": 64}
_AUDIT_FILTERS = {
    "event": {"type": "string", "maxLength": 40},
    "outcome": {"type": "string", "maxLength": 20},
    "username": {"type": "string", "maxLength": 320},
    "accountId": {"type": "string", "maxLength": 32},
    "keyId": {"type": "string", "maxLength": 32},
    "requestUuid": {"type": "string", "maxLength": 36},
    "since": {**_INTEGER_MS, "minimum": 0},
    "until": {**_INTEGER_MS, "minimum": 0},
}
_DASHBOARD = "a dashboard session (a password login); an API-key token gets 403"
_ADMIN = "scope tme_admin (an operator's dashboard session or API key)"
_ADMIN_IN_PERSON = (
    "scope tme_admin in a dashboard session (a password login); an API-key token gets 403"
)
_ADMIN_READ = "scope tme_admin_read or tme_admin"


def _client_paths() -> dict[str, Schema]:
    return {
        "/client/authenticate": _call(
            "Trade a username and an API key or password for an access token",
            tag="client",
            bearer=None,
            throttled=True,
            body=_fields(
                {
                    "username": {"type": "string", "description": "trimmed, case-insensitive"},
                    "secretKey": {"type": "string", "description": "an API secret or a password"},
                    "isAPI": {
                        "type": ["boolean", "string"],
                        "description": 'true/false, or the strings "true"/"false" in any case',
                    },
                },
                ("username", "secretKey", "isAPI"),
            ),
            data=_ref("Login"),
        ),
        "/client/session": _call(
            "Describe the session behind the bearer token",
            tag="client",
            body=_fields({}),
            data=_ref("Session"),
            body_required=False,
        ),
        "/client/logout": _call(
            "Revoke the bearer token's session",
            tag="client",
            body=_fields({}),
            data=_object({"ticket": _TICKET, "revoked": {"const": True}}),
            body_required=False,
        ),
        "/client/keys/create": _call(
            "Issue an API key for the caller's account; its secret is shown once",
            tag="keys",
            bearer=_DASHBOARD,
            body=_fields(
                {
                    "name": {"type": "string", "maxLength": 100},
                    "scopes": {
                        "type": "array",
                        "items": {"enum": sorted(KNOWN_SCOPES)},
                        "maxItems": 32,
                    },
                    "expiresInDays": {"type": "integer", "minimum": 1, "maximum": 3650},
                    "allowedCidrs": {"type": "array", "items": {"type": "string"}, "maxItems": 32},
                },
                ("name",),
            ),
            data=_ref("IssuedApiKey"),
        ),
        "/client/keys/search": _call(
            "A page of the caller's API keys",
            tag="keys",
            bearer=_DASHBOARD,
            body=_fields({**_PAGING, "sort": {"type": "string", "default": "-createdAt"}}),
            data=_page(_ref("ApiKey")),
            body_required=False,
        ),
        "/client/keys/revoke": _call(
            "Revoke one of the caller's keys and its sessions",
            tag="keys",
            bearer=_DASHBOARD,
            body=_fields({"id": _KEY_ID}, ("id",)),
            data=_ref("ApiKey"),
        ),
        "/client/keys/rotate": _call(
            "Give a key a new secret; the old one works for graceSeconds more",
            tag="keys",
            bearer=_DASHBOARD,
            body=_fields(
                {"id": _KEY_ID, "graceSeconds": {"type": "integer", "minimum": 0}}, ("id",)
            ),
            data=_ref("IssuedApiKey"),
        ),
        "/client/password/change": _call(
            "Change the password; the account's other sessions end",
            tag="account",
            bearer=_DASHBOARD,
            body=_fields(
                {"currentPassword": {"type": "string"}, "newPassword": {"type": "string"}},
                ("currentPassword", "newPassword"),
            ),
            data=_object(
                {"changed": {"type": "boolean"}, "otherSessionsRevoked": {"type": "boolean"}}
            ),
        ),
        "/client/sessions/search": _call(
            "A page of the caller's live sessions",
            tag="account",
            bearer=_DASHBOARD,
            body=_fields(_PAGING),
            data=_page(_ref("SessionSummary")),
            body_required=False,
        ),
        "/client/sessions/revoke": _call(
            "End one of the caller's sessions",
            tag="account",
            bearer=_DASHBOARD,
            body=_fields({"ticket": _TICKET}, ("ticket",)),
            data=_object(
                {"ticket": _TICKET, "revoked": {"type": "boolean"}, "current": {"type": "boolean"}}
            ),
        ),
    }


def _admin_paths() -> dict[str, Schema]:
    username = {"type": "string", "maxLength": 384}
    return {
        "/admin/users/create": _call(
            "Create an account",
            tag="admin",
            bearer=_ADMIN_IN_PERSON,
            body=_fields(
                {"username": username, "scopes": _SCOPES, "password": {"type": "string"}},
                ("username",),
            ),
            data=_ref("Account"),
        ),
        "/admin/users/search": _call(
            "A page of accounts whose username contains query",
            tag="admin",
            bearer=_ADMIN_READ,
            body=_fields({**_PAGING, "query": {"type": "string", "maxLength": 320}}),
            data=_page(_ref("Account")),
            body_required=False,
        ),
        "/admin/users/update": _call(
            "Change an account's scopes or disabled flag",
            tag="admin",
            bearer=_ADMIN_IN_PERSON,
            body=_fields(
                {
                    "username": username,
                    "scopes": _SCOPES,
                    "disabled": {"type": ["boolean", "string"]},
                    "unlockPassword": {
                        "type": ["boolean", "string"],
                        "description": "re-enable password login after the failure cap",
                    },
                },
                ("username",),
            ),
            data=_ref("Account"),
        ),
        "/admin/sessions/revoke": _call(
            "End one session by ticket, or every session of a username",
            tag="admin",
            bearer=_ADMIN,
            body=_fields({"ticket": _TICKET, "username": username}),
            data={
                "type": "object",
                "properties": {
                    "ticket": _TICKET,
                    "username": {"type": "string"},
                    "revoked": {"const": True},
                },
                "required": ["revoked"],
            },
        ),
        "/admin/keys/revoke": _call(
            "Revoke any account's key",
            tag="admin",
            bearer=_ADMIN,
            body=_fields({"id": _KEY_ID}, ("id",)),
            data={"allOf": [_ref("ApiKey"), _object({"accountId": {"type": "string"}})]},
        ),
        "/admin/audit/search": _call(
            "Search the audit trail, newest first",
            tag="admin",
            bearer=_ADMIN_READ,
            body=_fields({**_PAGING, **_AUDIT_FILTERS}),
            data=_page(_ref("AuditEvent")),
            body_required=False,
        ),
    }


def _get(summary: str, tag: str, content: dict[str, Schema], *failures: str) -> Schema:
    return {
        "get": {
            "summary": summary,
            "tags": [tag],
            "parameters": [_UUID_HEADER],
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": content},
                **_responses(*failures),
            },
        }
    }


def _verify_operation(method: str) -> Schema:
    operation: Schema = {
        "summary": f"Gateway forward-auth ({method.upper()})",
        "tags": ["verification"],
        "parameters": [
            _UUID_HEADER,
            {
                "name": "scope",
                "in": "query",
                "required": False,
                "description": "Scopes the token must carry; repeatable or space separated.",
                "schema": {"type": "string"},
            },
        ],
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "Let the request through; who is calling is in X-Auth-* headers.",
                "headers": {
                    **_NO_STORE,
                    "X-Auth-User": {"required": True, "schema": {"type": "string"}},
                    "X-Auth-Scopes": {"required": True, "schema": {"type": "string"}},
                    "X-Auth-Ticket": {"required": True, "schema": {"type": "string"}},
                },
                "content": {"application/json": {"schema": _success(_ref("Identity"))}},
            },
            **_responses(
                "BadRequest", "Unauthorized", "Forbidden", "InternalError", "StorageUnavailable"
            ),
        },
    }
    if method == "post":
        operation["requestBody"] = {
            "required": False,
            "description": "Never read: a gateway may forward any body.",
            "content": {"application/json": {"schema": {}}},
        }
    return operation


def _platform_paths() -> dict[str, Schema]:
    envelope = {"application/json": {"schema": _success({"type": "object"})}}
    return {
        "/auth/verify": {"get": _verify_operation("get"), "post": _verify_operation("post")},
        "/oauth/introspect": {
            "post": {
                "summary": "Token introspection (RFC 7662)",
                "tags": ["verification"],
                "description": "Needs a bearer token with scope tme_introspect or tme_admin.",
                "parameters": [_UUID_HEADER],
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": _fields(
                                {
                                    "token": {"type": "string"},
                                    "token_type_hint": {"type": "string"},
                                },
                                ("token",),
                            )
                        },
                        "application/json": {
                            "schema": {
                                "type": "object",
                                **_fields({"token": {"type": "string"}}, ("token",)),
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "The bare RFC 7662 answer (not the envelope).",
                        "headers": _NO_STORE,
                        "content": {"application/json": {"schema": _ref("Introspection")}},
                    },
                    **_responses(
                        "BadRequest",
                        "Unauthorized",
                        "Forbidden",
                        "PayloadTooLarge",
                        "UnsupportedMediaType",
                        "InternalError",
                        "StorageUnavailable",
                    ),
                },
            }
        },
        "/healthz": _get("The process is alive", "infrastructure", envelope),
        "/readyz": _get("The database answers", "infrastructure", envelope, "StorageUnavailable"),
        "/.well-known/jwks.json": _get(
            "The public signing keys (RFC 7517)",
            "infrastructure",
            {"application/jwk-set+json": {"schema": _ref("JsonWebKeySet")}},
        ),
        "/auth/revocations": _get(
            "Revocations in force, for local verifiers",
            "infrastructure",
            {
                "application/json": {
                    "schema": _success(
                        _object(
                            {
                                "revocations": {"type": "array", "items": _ref("Revocation")},
                                "generatedAt": _INTEGER_MS,
                            }
                        )
                    )
                }
            },
            "StorageUnavailable",
        ),
        "/metrics": _get(
            "Prometheus metrics of the client calls",
            "infrastructure",
            {"text/plain": {"schema": {"type": "string"}}},
        ),
        "/openapi.json": _get(
            "This description",
            "infrastructure",
            {"application/json": {"schema": {"type": "object"}}},
        ),
        **_console_paths(),
    }


def _console_paths() -> dict[str, Schema]:
    """The key console: a static page and its assets, for people, under a strict CSP."""
    page = _get(
        "The key console, a web page for managing API keys",
        "console",
        {"text/html": {"schema": {"type": "string"}}},
    )
    asset = _get(
        "The key console's script, stylesheet or icon",
        "console",
        {
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}},
            "image/svg+xml": {"schema": {"type": "string"}},
        },
    )
    asset["get"]["parameters"].append(
        {
            "name": "asset",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(CONSOLE_ASSETS)},
        }
    )
    asset["get"]["responses"]["404"] = _error("No such asset.")
    return {"/console": page, "/console/{asset}": asset}


@functools.cache
def openapi_document() -> bytes:
    """The description as JSON bytes, built once per process."""
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "xpay-auth",
            "version": __version__,
            "description": (
                "Authentication for the xpay payments API: API keys, passwords and signed "
                "access tokens. Every client call is a POST with a JSON object body and "
                "answers in the envelope `{success|error, uuid}`; business outcomes, "
                "refusals included, are HTTP 200."
            ),
        },
        "paths": {
            **_client_paths(),
            **_admin_paths(),
            **openapi_oauth.oauth_paths(_UUID_HEADER),
            **_platform_paths(),
        },
        "components": {
            "schemas": {**SCHEMAS, **openapi_oauth.SCHEMAS},
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **openapi_oauth.SECURITY_SCHEMES,
            },
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()
