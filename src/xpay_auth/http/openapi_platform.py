"""The platform's calls in the OpenAPI description: verification, infrastructure, pages.

Gateways, verifiers and operators' tools call these; their answers follow the standards
they implement (RFC 7662, RFC 7517) or the envelope, as each operation says.
"""

from __future__ import annotations

from xpay_auth.http.console_routes import CONSOLE_ASSETS
from xpay_auth.http.docs_routes import DOCS_ASSETS
from xpay_auth.http.openapi_envelope import (
    INTEGER_MS,
    NO_STORE,
    UUID_HEADER,
    Schema,
    error_response,
    object_schema,
    ref,
    response_refs,
    success_envelope,
)


def _fields(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"properties": properties, "required": list(required)}


def _get(summary: str, tag: str, content: dict[str, Schema], *failures: str) -> Schema:
    return {
        "get": {
            "summary": summary,
            "tags": [tag],
            "parameters": [UUID_HEADER],
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": content},
                **response_refs(*failures),
            },
        }
    }


def _verify_operation(method: str) -> Schema:
    operation: Schema = {
        "summary": f"Gateway forward-auth ({method.upper()})",
        "tags": ["verification"],
        "parameters": [
            UUID_HEADER,
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
                    **NO_STORE,
                    "X-Auth-User": {"required": True, "schema": {"type": "string"}},
                    "X-Auth-Scopes": {"required": True, "schema": {"type": "string"}},
                    "X-Auth-Ticket": {"required": True, "schema": {"type": "string"}},
                },
                "content": {"application/json": {"schema": success_envelope(ref("Identity"))}},
            },
            **response_refs(
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
    page = object_schema(
        {
            "revocations": {"type": "array", "items": ref("Revocation")},
            "cursor": {"type": "string", "pattern": "^[0-9a-f]{32}\\.[0-9]+$"},
            "more": {"type": "boolean"},
            "reset": {"type": "boolean"},
            "generatedAt": INTEGER_MS,
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
            "parameters": [UUID_HEADER, *query],
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": success_envelope(page)}},
                },
                **response_refs(
                    "BadRequest", "Unauthorized", "Forbidden", "InternalError", "StorageUnavailable"
                ),
            },
        }
    }


def platform_paths() -> dict[str, Schema]:
    envelope = {"application/json": {"schema": success_envelope({"type": "object"})}}
    return {
        "/auth/verify": {"get": _verify_operation("get"), "post": _verify_operation("post")},
        "/oauth/introspect": {
            "post": {
                "summary": "Token introspection (RFC 7662)",
                "tags": ["verification"],
                "description": "Needs a bearer token with scope tme_introspect or tme_admin.",
                "parameters": [UUID_HEADER],
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
                        "headers": NO_STORE,
                        "content": {"application/json": {"schema": ref("Introspection")}},
                    },
                    **response_refs(
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
            {"application/jwk-set+json": {"schema": ref("JsonWebKeySet")}},
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
    asset["get"]["responses"]["404"] = error_response("No such asset.")
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
    asset["get"]["responses"]["404"] = error_response("No such asset.")
    return {"/docs": page, "/docs/{asset}": asset}
