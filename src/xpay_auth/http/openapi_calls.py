"""The client calls in the OpenAPI description, built from the models they validate with.

Each call's body and success data come from its models (``http.calls``), so the description
cannot drift from the code. Every client call answers HTTP 200 for its business outcome,
success or refusal alike (the platform's contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from xpay_auth.http.calls import CallDoc
from xpay_auth.http.openapi_envelope import (
    NO_STORE,
    UUID_HEADER,
    Schema,
    error_envelope,
    object_schema,
    response_refs,
    success_envelope,
)

_REF_TEMPLATE = "#/components/schemas/{model}"
_NOT_FOUND = {"key": "id", "session": "ticket", "account": "username"}


def refusal_schema(call: CallDoc) -> Schema:
    """The business refusals ``call`` may answer (HTTP 200): ``invalid field`` naming one
    of its own fields, and the refusals it declares; nothing else."""
    names = [field.alias or name for name, field in call.body.model_fields.items()]
    shapes = []
    if names:
        shapes.append(
            error_envelope(
                {"enum": [f"invalid field: {name}" for name in names]},
                object_schema(
                    {"field": {"enum": names}, "reason": {"type": "string", "minLength": 1}}
                )
                | {"additionalProperties": False},
            )
        )
    for refusal in call.refusals:
        if refusal == "credentials":
            shapes.append(
                error_envelope({"const": "invalid credentials"}, {"const": {"invalid": True}})
            )
        else:
            key = _NOT_FOUND[refusal]
            shapes.append(
                error_envelope(
                    {"const": f"no such {refusal}"},
                    object_schema({key: {"type": "string"}}) | {"additionalProperties": False},
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
        "parameters": [UUID_HEADER],
        "requestBody": {
            "required": call.body_required,
            "content": {"application/json": {"schema": body}},
        },
        "responses": {
            "200": {
                "description": "The business outcome: success, or a refusal naming its reason.",
                "headers": NO_STORE,
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [success_envelope(data), refusal_schema(call)]}
                    }
                },
            },
            **response_refs(*failures),
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
        inputs, ref_template=_REF_TEMPLATE, schema_generator=SchemaGenerator
    )
    paths = {
        call.path: _call(call, refs[("body", call.path), mode], refs[("data", call.path), mode])
        for call in calls
    }
    return paths, definitions.get("$defs", {})
