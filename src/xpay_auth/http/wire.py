"""The field types of request bodies, and reading a body into its call's model.

Each call declares its body once, as a pydantic model built from the types here; the
limits live in those declarations and nowhere else. A refusal names the field and says
why in the contract's words (``invalid field: <name>``), phrased from the field's own
JSON Schema, so the answer, ``/openapi.json`` and ``docs/api.md`` cannot disagree.

The strict JSON rules (duplicate keys, depth, lone surrogates, big integers) are checked
before a body gets here, by ``contract.parse_json_object``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from xpay_auth.errors import InvalidField

MAX_TEXT = 1024
NO_NUL = r"^[^\u0000]*$"
TICKET_PATTERN = r"^[0-9a-f]{32}$"
# What a refused pattern means, in the words clients have always been answered with.
_PATTERN_REASONS: Final = {
    NO_NUL: "must not contain NUL characters",
    TICKET_PATTERN: "must be 32 lowercase hex characters",
}
_REFUSED = "invalid_field"


class Body(BaseModel):
    """A request body: strict types (no coercion), unknown fields ignored, wire names."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


def refuse(reason: str, *, field: str | None = None) -> PydanticCustomError:
    """A refusal raised by a validator; ``field`` names it when a whole-body rule fails."""
    return PydanticCustomError(_REFUSED, "{reason}", {"reason": reason, "field": field})


def text(max_length: int = MAX_TEXT) -> StringConstraints:
    """At most ``max_length`` characters, none of them NUL: ``Annotated[str, text(n)]``."""
    return StringConstraints(max_length=max_length, pattern=NO_NUL)


def between(minimum: int, maximum: int) -> Any:
    """A range, for ``Annotated[int, between(a, b)]``; strict, so never a boolean or float."""
    return Field(ge=minimum, le=maximum)


def at_most(max_items: int) -> Any:
    """A list length limit, for ``Annotated[list[...], at_most(n)]``."""
    return Field(max_length=max_items)


def item(max_length: int) -> StringConstraints:
    """A list item: 1 to ``max_length`` characters."""
    return StringConstraints(min_length=1, max_length=max_length)


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return value


# A JSON boolean, or the strings "true"/"false" in any case (the seed's curl sends "true").
Flag = Annotated[
    bool,
    BeforeValidator(_flag),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$"},
            ]
        }
    ),
]
_TICKET = re.compile(TICKET_PATTERN)


def _hex_ticket(value: str) -> str:
    if not _TICKET.match(value):
        raise refuse(_PATTERN_REASONS[TICKET_PATTERN])
    return value


# Checked as text first (length, then NUL), then as a ticket, as it always was; the
# schema's pattern is the ticket's, which excludes NUL too.
Ticket = Annotated[
    str,
    StringConstraints(max_length=64, pattern=NO_NUL),
    AfterValidator(_hex_ticket),
    Field(json_schema_extra={"pattern": TICKET_PATTERN}, description="a session's ticket"),
]

Model = TypeVar("Model", bound=Body)


def parse(model: type[Model], body: Mapping[str, Any]) -> Model:
    """``body`` as ``model``, or the contract's ``invalid field`` naming the first bad field.

    A JSON ``null`` counts as an absent field, as it always has.
    """
    present = body
    if None in body.values():
        present = {name: value for name, value in body.items() if value is not None}
    try:
        return model.model_validate(present)
    except ValidationError as exc:
        raise _invalid_field(model, exc.errors(include_url=False, include_input=False)) from None


def _invalid_field(model: type[Body], errors: list[ErrorDetails]) -> InvalidField:
    # Errors come in declaration order; of one field's, the field's own before its items'.
    first = errors[0]
    name = str(first["loc"][0]) if first["loc"] else None
    same = [error for error in errors if error["loc"][:1] == first["loc"][:1]]
    error = min(same, key=lambda item: len(item["loc"]))
    if error["type"] == _REFUSED:
        ctx = error.get("ctx", {})
        return InvalidField(ctx.get("field") or name or "body", ctx["reason"])
    if name is None:  # pragma: no cover  only refuse() fails a whole body
        return InvalidField("body", error["msg"])
    return InvalidField(name, _reason(field_schema(model, name), error))


@functools.cache
def _properties(model: type[Body]) -> dict[str, Any]:
    properties: dict[str, Any] = model.model_json_schema(by_alias=True)["properties"]
    return properties


def field_schema(model: type[Body], name: str) -> dict[str, Any]:
    """The JSON Schema of one field, without the ``null`` an optional field also takes."""
    schema: dict[str, Any] = _properties(model)[name]
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    if len(options) == 1:
        outer = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**options[0], **outer}
    return schema


def _list_reason(schema: Mapping[str, Any], error: ErrorDetails) -> str:
    if len(error["loc"]) > 1:
        return f"each item must be a string of 1 to {schema['items']['maxLength']} characters"
    return f"must be a list of at most {schema['maxItems']} strings"


def _integer_reason(schema: Mapping[str, Any], error: ErrorDetails) -> str:
    if error["type"] in {"greater_than_equal", "less_than_equal"}:
        return f"must be between {schema['minimum']} and {schema['maximum']}"
    return "must be an integer"


def _string_reason(schema: Mapping[str, Any], error: ErrorDetails) -> str:
    if error["type"] == "string_too_long":
        return f"must be at most {schema['maxLength']} characters"
    if error["type"] == "string_pattern_mismatch":
        return _PATTERN_REASONS[error.get("ctx", {})["pattern"]]
    return "must be a string"


def _flag_reason(_schema: Mapping[str, Any], _error: ErrorDetails) -> str:
    return "must be true or false"


_REASONS: Final = {"array": _list_reason, "integer": _integer_reason, "string": _string_reason}


def _reason(schema: Mapping[str, Any], error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "is required"
    return _REASONS.get(schema.get("type", ""), _flag_reason)(schema, error)


def one_of(choices: tuple[str, ...], *, empty: str) -> AfterValidator:
    """Refuse a string outside ``choices``, listing them; ``""`` means ``empty``."""
    allowed = frozenset(choices)
    listed = ", ".join(choices)

    def check(value: str) -> str:
        if not value:
            return empty
        if value not in allowed:
            raise refuse(f"must be one of {listed}")
        return value

    return AfterValidator(check)


def not_blank(value: str) -> str:
    """The text without surrounding spaces; only spaces count as absent."""
    stripped = value.strip()
    if not stripped:
        raise refuse("is required")
    return stripped
