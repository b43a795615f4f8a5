"""The service's OpenAPI 3.1 description, served at ``GET /openapi.json``.

The client calls' bodies and success data come from their models (``http.calls``), the
ones the routes validate with, so the description cannot drift from the code. Every client
call answers HTTP 200 for its business outcome, success or refusal alike (the platform's
contract); other statuses are protocol failures, always in the error envelope.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from xpay_auth import __version__
from xpay_auth.http import openapi_oauth
from xpay_auth.http.calls import CALLS, CallDoc
from xpay_auth.http.console_routes import CONSOLE_ASSETS
from xpay_auth.http.docs_routes import DOCS_ASSETS

Schema = dict[str, Any]
_REF = "#/components/schemas/{model}"

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
    "Revocation": {
        "type": "object",
        "properties": {
            "kind": {"enum": ["ticket", "key", "account"]},
            "subject": {"type": "string"},
            "expiresAt": _INTEGER_MS,
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
        "The database does not answer; nothing of the call was done or recorded; retry after "
        "Retry-After seconds.",
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


def _error_shape(message: Schema, data: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"message": message, "data": data, "tag": _UUID},
                "required": ["message", "data", "tag"],
                "additionalProperties": False,
            },
            "uuid": _UUID,
        },
        "required": ["error", "uuid"],
        "additionalProperties": False,
    }


_NOT_FOUND = {"key": "id", "session": "ticket", "account": "username"}


def refusal_schema(call: CallDoc) -> Schema:
    """The business refusals ``call`` may answer (HTTP 200): ``invalid field`` naming one
    of its own fields, and the refusals it declares; nothing else."""
    names = [field.alias or name for name, field in call.body.model_fields.items()]
    shapes = []
    if names:
        shapes.append(
            _error_shape(
                {"enum": [f"invalid field: {name}" for name in names]},
                _object({"field": {"enum": names}, "reason": {"type": "string", "minLength": 1}})
                | {"additionalProperties": False},
            )
        )
    for refusal in call.refusals:
        if refusal == "credentials":
            shapes.append(
                _error_shape({"const": "invalid credentials"}, {"const": {"invalid": True}})
            )
        else:
            key = _NOT_FOUND[refusal]
            shapes.append(
                _error_shape(
                    {"const": f"no such {refusal}"},
                    _object({key: {"type": "string"}}) | {"additionalProperties": False},
                )
            )
    return {"oneOf": shapes} if shapes else {"not": {}}


def _call(call: CallDoc, body: Schema, data: Schema) -> Schema:
    """A POST client call: JSON in, the envelope out, 200 for every business outcome."""
    failures = [
        "BadRequest",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "StorageUnavailable",
    ]
    if call.bearer is not None:
        failures += ["Unauthorized", "Forbidden"]
    if call.throttled:
        failures.append("TooManyRequests")
    operation: Schema = {
        "summary": call.summary,
        "tags": [call.tag],
        "parameters": [_UUID_HEADER],
        "requestBody": {
            "required": call.body_required,
            "content": {"application/json": {"schema": body}},
        },
        "responses": {
            "200": {
                "description": "The business outcome: success, or a refusal naming its reason.",
                "headers": _NO_STORE,
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [_success(data), refusal_schema(call)]}
                    }
                },
            },
            **_responses(*failures),
        },
        "security": [] if call.bearer is None else [{"bearer": []}],
    }
    if call.bearer is not None:
        operation["description"] = f"Needs a bearer token: {call.bearer}."
    return {"post": operation}


class SchemaGenerator(GenerateJsonSchema):
    """Pydantic's JSON Schema, without a title on every field (the name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002
        return False


def model_schemas(calls: Sequence[CallDoc]) -> tuple[dict[str, Schema], Schema]:
    """Each call's paths entry, and the component schemas its models need."""
    mode: JsonSchemaMode = "validation"
    inputs = [
        item
        for call in calls
        for item in (
            (("body", call.path), mode, TypeAdapter(call.body)),
            (("data", call.path), mode, TypeAdapter(call.data)),
        )
    ]
    refs, definitions = TypeAdapter.json_schemas(
        inputs, ref_template=_REF, schema_generator=SchemaGenerator
    )
    paths = {
        call.path: _call(call, refs[("body", call.path), mode], refs[("data", call.path), mode])
        for call in calls
    }
    return paths, definitions.get("$defs", {})


def _fields(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"properties": properties, "required": list(required)}


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


def _revocation_feed_operation() -> Schema:
    page = _object(
        {
            "revocations": {"type": "array", "items": _ref("Revocation")},
            "cursor": {"type": "string", "pattern": "^[0-9a-f]{32}\\.[0-9]+$"},
            "more": {"type": "boolean"},
            "reset": {"type": "boolean"},
            "generatedAt": _INTEGER_MS,
        }
    )
    query = [
        {
            "name": "since",
            "in": "query",
            "required": False,
            "description": "The cursor of the previous page; absent for the snapshot.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}\\.(0|[1-9][0-9]{0,17})$"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Entries per page.",
            "schema": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 300},
        },
    ]
    return {
        "get": {
            "summary": "Revocations changed after a cursor, for local verifiers",
            "tags": ["infrastructure"],
            "description": "Needs a bearer token with scope tme_verifier.",
            "parameters": [_UUID_HEADER, *query],
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _success(page)}},
                },
                **_responses(
                    "BadRequest", "Unauthorized", "Forbidden", "InternalError", "StorageUnavailable"
                ),
            },
        }
    }


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
        "/auth/revocations": _revocation_feed_operation(),
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
        **_docs_paths(),
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


def _docs_paths() -> dict[str, Schema]:
    """The API reference page and its assets, for people, under a strict CSP."""
    page = _get(
        "This description rendered by Swagger UI",
        "docs",
        {"text/html": {"schema": {"type": "string"}}},
    )
    asset = _get(
        "A script, stylesheet or icon of the reference page",
        "docs",
        {
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string"}},
        },
    )
    asset["get"]["parameters"].append(
        {
            "name": "asset",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(DOCS_ASSETS)},
        }
    )
    asset["get"]["responses"]["404"] = _error("No such asset.")
    return {"/docs": page, "/docs/{asset}": asset}


def build_document(calls: Sequence[CallDoc] = CALLS) -> Schema:
    """The description of this service, with ``calls`` as its client calls."""
    call_paths, definitions = model_schemas(calls)
    return {
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
            **call_paths,
            **openapi_oauth.oauth_paths(_UUID_HEADER),
            **_platform_paths(),
        },
        "components": {
            "schemas": {**definitions, **SCHEMAS, **openapi_oauth.SCHEMAS},
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **openapi_oauth.SECURITY_SCHEMES,
            },
        },
    }


@functools.cache
def openapi_document() -> bytes:
    """The description as JSON bytes, built once per process."""
    return json.dumps(build_document(), separators=(",", ":")).encode()
