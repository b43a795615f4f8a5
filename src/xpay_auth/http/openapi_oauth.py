"""The OpenAPI description of the OAuth 2.0 calls: the token endpoint and its metadata.

Their answers follow the OAuth RFCs rather than the envelope, so their schemas live here,
beside the codes and methods the endpoints use.
"""

from __future__ import annotations

from typing import Any

from xpay_auth.domain import KNOWN_SCOPES
from xpay_auth.http.oauth_errors import CHALLENGE
from xpay_auth.http.oauth_request import FORM_MEDIA_TYPE
from xpay_auth.http.oauth_routes import AUTH_METHODS, GRANT, METADATA_PATH, TOKEN_PATH

Schema = dict[str, Any]

ERROR_CODES = (
    "invalid_request",
    "invalid_client",
    "invalid_scope",
    "unsupported_grant_type",
    "temporarily_unavailable",
    "server_error",
)
_UUID = {"type": "string", "format": "uuid"}
_URL = {"type": "string", "format": "uri"}
_STRINGS = {"type": "array", "items": {"type": "string"}}

SCHEMAS: dict[str, Schema] = {
    "TokenResponse": {
        "type": "object",
        "description": "RFC 6749 section 5.1; no refresh token for client credentials.",
        "properties": {
            "access_token": {
                "type": "string",
                "description": "the same JWT /client/authenticate issues",
            },
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer", "minimum": 0, "description": "seconds"},
            "scope": {"type": "string", "description": "the token's scopes, space separated"},
        },
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "additionalProperties": False,
    },
    "OAuthError": {
        "type": "object",
        "description": "RFC 6749 section 5.2, plus the request uuid and the logged tag.",
        "properties": {
            "error": {"enum": list(ERROR_CODES)},
            "error_description": {
                "type": "string",
                "pattern": "^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*$",
            },
            "tag": _UUID,
            "uuid": _UUID,
        },
        "required": ["error", "error_description", "tag", "uuid"],
        "additionalProperties": False,
    },
    "AuthorizationServerMetadata": {
        "type": "object",
        "description": "RFC 8414 section 2; `issuer` equals the tokens' `iss`.",
        "properties": {
            "issuer": {"type": "string"},
            "token_endpoint": _URL,
            "token_endpoint_auth_methods_supported": {
                "type": "array",
                "items": {"enum": list(AUTH_METHODS)},
            },
            "grant_types_supported": {"type": "array", "items": {"const": GRANT}},
            "response_types_supported": {"type": "array", "maxItems": 0},
            "jwks_uri": _URL,
            "introspection_endpoint": _URL,
            "introspection_endpoint_auth_methods_supported": _STRINGS,
            "scopes_supported": {"type": "array", "items": {"enum": sorted(KNOWN_SCOPES)}},
            "service_documentation": _URL,
        },
        "required": [
            "issuer",
            "token_endpoint",
            "token_endpoint_auth_methods_supported",
            "grant_types_supported",
            "response_types_supported",
            "jwks_uri",
            "introspection_endpoint",
            "introspection_endpoint_auth_methods_supported",
            "scopes_supported",
        ],
    },
}

_NO_CACHE = {
    "Cache-Control": {"required": True, "schema": {"const": "no-store"}},
    "Pragma": {"required": True, "schema": {"const": "no-cache"}},
}


def _error(description: str, headers: dict[str, Schema] | None = None) -> Schema:
    return {
        "description": description,
        "headers": {**_NO_CACHE, **(headers or {})},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}},
    }


def _token_operation(uuid_header: Schema) -> Schema:
    challenge = {
        "WWW-Authenticate": {
            "description": f"`{CHALLENGE['WWW-Authenticate']}` (RFC 6749 section 2.3.1)",
            "required": True,
            "schema": {"type": "string", "pattern": "^Basic"},
        }
    }
    retry = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return {
        "summary": "OAuth 2.0 client credentials grant (RFC 6749 section 4.4)",
        "tags": ["oauth"],
        "description": (
            "The client is an account: `client_id` is its username, `client_secret` one of "
            "its API keys, sent by HTTP Basic or in the body. Throttled and audited like "
            "`/client/authenticate`; the token and session are the same."
        ),
        "parameters": [uuid_header],
        "security": [{"clientBasic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {
                FORM_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {"type": "string", "examples": [GRANT]},
                            "scope": {
                                "type": "string",
                                "description": "space separated; a subset of the key's scopes",
                            },
                            "client_id": {"type": "string", "description": "client_secret_post"},
                            "client_secret": {
                                "type": "string",
                                "description": "client_secret_post",
                            },
                        },
                        "required": ["grant_type"],
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "The access token (RFC 6749 section 5.1).",
                "headers": _NO_CACHE,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TokenResponse"}}
                },
            },
            "400": _error("invalid_request, invalid_scope or unsupported_grant_type."),
            "401": _error("invalid_client: no client authentication, or it failed.", challenge),
            "413": _error("invalid_request: the body is over the limit."),
            "415": _error("invalid_request: the body is not form-encoded."),
            "429": _error("temporarily_unavailable: too many failures from this address.", retry),
            "500": _error("server_error: unexpected; the details are logged under the tag."),
            "503": _error("temporarily_unavailable: the database does not answer.", retry),
        },
    }


def _metadata_operation(parameters: list[Schema], responses: dict[str, Schema]) -> Schema:
    return {
        "get": {
            "summary": "Authorization server metadata (RFC 8414)",
            "tags": ["oauth"],
            "parameters": parameters,
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/AuthorizationServerMetadata"}
                        }
                    },
                },
                **responses,
            },
        }
    }


def oauth_paths(uuid_header: Schema) -> dict[str, Schema]:
    suffix = {
        "name": "suffix",
        "in": "path",
        "required": True,
        "description": "The issuer's path (RFC 8414 section 3.1); any other answers 404.",
        "schema": {"type": "string"},
    }
    not_found = {
        "404": {
            "description": "Not the issuer's path.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            },
        }
    }
    return {
        TOKEN_PATH: {"post": _token_operation(uuid_header)},
        METADATA_PATH: _metadata_operation([uuid_header], {}),
        f"{METADATA_PATH}/{{suffix}}": _metadata_operation([uuid_header, suffix], not_found),
    }


SECURITY_SCHEMES: dict[str, Schema] = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "client_secret_basic: the username and an API key (RFC 6749 2.3.1)",
    }
}
