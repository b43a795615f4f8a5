"""The building blocks of the OpenAPI description: the envelope, shared schemas, errors.

Every call of the contract answers in the envelope ``{success|error, uuid}``; the shapes
here are the ones all the other parts of the description refer to.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

INTEGER_MS = {"type": "integer", "description": "milliseconds since the epoch"}
NULLABLE_TEXT = {"type": ["string", "null"]}
TICKET = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "a login session"}
SCOPES = {"type": "array", "items": {"type": "string"}}
UUID = {"type": "string", "format": "uuid"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def object_schema(
    properties: dict[str, Schema], *, required: tuple[str, ...] | None = None
) -> Schema:
    """An object whose listed properties are all required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


def success_envelope(data: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "success": {
                "type": "object",
                "properties": {"message": {"type": "string", "minLength": 1}, "data": data},
                "required": ["message", "data"],
                "additionalProperties": False,
            },
            "uuid": UUID,
        },
        "required": ["success", "uuid"],
        "additionalProperties": False,
    }


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
                    "tag": UUID,
                },
                "required": ["message", "data", "tag"],
                "additionalProperties": False,
            },
            "uuid": UUID,
        },
        "required": ["error", "uuid"],
        "additionalProperties": False,
    },
    "Identity": object_schema(
        {
            "username": {"type": "string"},
            "scopes": SCOPES,
            "ticket": TICKET,
            "isAPI": {"type": "boolean"},
            "keyId": NULLABLE_TEXT,
            "expiresAt": INTEGER_MS,
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
            "sid": TICKET,
        },
        "required": ["active"],
    },
    "Revocation": {
        "type": "object",
        "properties": {
            "kind": {"enum": ["ticket", "key", "account"]},
            "subject": {"type": "string"},
            "expiresAt": INTEGER_MS,
            "notAfter": {"type": "integer", "description": "accounts: tokens issued up to it"},
            "exceptTicket": {"type": "string", "description": "accounts: the session spared"},
        },
        "required": ["kind", "subject", "expiresAt"],
    },
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

NO_STORE = {
    "Cache-Control": {
        "description": "Responses may carry tokens: no cache may keep them.",
        "required": True,
        "schema": {"const": "no-store"},
    }
}


def error_response(description: str, headers: dict[str, Schema] | None = None) -> Schema:
    return {
        "description": description,
        "headers": {**NO_STORE, **(headers or {})},
        "content": {"application/json": {"schema": ref("ErrorEnvelope")}},
    }


CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'RFC 6750 section 3: `Bearer error="invalid_token"` or `Bearer`',
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer"},
    }
}

RESPONSES: dict[str, Schema] = {
    "BadRequest": error_response(
        "The body is not one JSON object (or is invalid UTF-8, too deep, has duplicate keys), "
        "or it or the headers did not arrive in time."
    ),
    "Unauthorized": error_response(
        "The bearer token is missing, malformed, expired, revoked or badly signed.", CHALLENGE
    ),
    "Forbidden": error_response(
        "The token lacks the scope, or the kind of session, the call needs.", CHALLENGE
    ),
    "PayloadTooLarge": error_response("The body is over the limit (64 KiB by default)."),
    "UnsupportedMediaType": error_response("The content type is not JSON."),
    "TooManyRequests": error_response(
        "Too many failed authentications from this address.",
        {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    ),
    "InternalError": error_response("Unexpected; the details are in the log under the tag."),
    "StorageUnavailable": error_response(
        "The database does not answer; nothing of the call was done or recorded; retry after "
        "Retry-After seconds.",
        {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    ),
}

UUID_HEADER = {
    "name": "uuid",
    "in": "header",
    "required": False,
    "description": "A UUID v4 echoed as the body's `uuid`; a fresh one when absent or invalid.",
    "schema": {"type": "string"},
}


def response_refs(*names: str) -> dict[str, Schema]:
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


def error_envelope(message: Schema, data: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"message": message, "data": data, "tag": UUID},
                "required": ["message", "data", "tag"],
                "additionalProperties": False,
            },
            "uuid": UUID,
        },
        "required": ["error", "uuid"],
        "additionalProperties": False,
    }
