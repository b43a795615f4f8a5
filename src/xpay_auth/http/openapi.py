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

from xpay_auth import __version__
from xpay_auth.http import openapi_oauth
from xpay_auth.http.calls import CALLS, CallDoc
from xpay_auth.http.openapi_calls import model_schemas
from xpay_auth.http.openapi_envelope import RESPONSES, SCHEMAS, UUID_HEADER, Schema
from xpay_auth.http.openapi_platform import platform_paths


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
            **openapi_oauth.oauth_paths(UUID_HEADER),
            **platform_paths(),
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
