"""The field tables of ``docs/api.md``, written from the call models.

``python -m xpay_auth.http.apidoc`` rewrites every table between
``<!-- generated: body PATH -->`` (a call's request fields) or
``<!-- generated: data NAME -->`` (the fields of a success shape) and
``<!-- end generated -->``; ``--check`` only says whether the file is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from xpay_auth.http import replies
from xpay_auth.http.calls import CALLS, CallDoc
from xpay_auth.http.openapi_calls import SchemaGenerator
from xpay_auth.http.wire import TICKET_PATTERN

Schema = Mapping[str, Any]
DOC = Path("docs/api.md")
_BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<kind>body|data) (?P<name>\S+) -->\n)"
    r".*?(?P<close><!-- end generated -->)",
    re.DOTALL,
)


def _schema(kind: Any) -> Schema:
    schema: dict[str, Any] = TypeAdapter(kind).json_schema(schema_generator=SchemaGenerator)
    return schema


def _resolve(schema: Schema) -> Schema:
    """An optional field's schema without the ``null`` it also takes."""
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    if len(options) == 1 and "type" not in schema:
        outer = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**options[0], **outer}
    return schema


def _type(schema: Schema) -> str:
    kind = schema.get("type")
    if kind == "array":
        return "string array"
    if kind is None and "anyOf" in schema:
        return "boolean"  # a flag: a boolean or its strings
    return str(kind)


def _limits(schema: Schema) -> list[str]:
    kind = schema.get("type")
    rules: list[str] = []
    if kind == "string":
        if "enum" in schema:
            rules.append("one of " + ", ".join(f"`{choice}`" for choice in schema["enum"]))
        elif schema.get("pattern") == TICKET_PATTERN:
            rules.append("32 lowercase hex characters")
        elif "maxLength" in schema:
            rules.append(f"at most {schema['maxLength']} characters")
    elif kind == "integer":
        rules.append(f"{schema['minimum']} to {schema['maximum']}")
    elif kind == "array":
        item = schema["items"]
        rules.append(
            f"up to {schema['maxItems']} items of 1 to {item['maxLength']} characters each"
        )
    elif "anyOf" in schema:
        rules.append('also the strings `"true"` / `"false"` in any case')
    return rules


def _rules(schema: Schema, *, required: bool) -> str:
    rules = ["required" if required else "optional", *_limits(schema)]
    if schema.get("default") is not None:
        rules.append(f"default `{json.dumps(schema['default'])}`")
    if "description" in schema:
        rules.append(schema["description"])
    return "; ".join(rules)


def body_table(call: CallDoc) -> str:
    """The request fields of ``call``: name, type and every rule the model enforces."""
    schema = _schema(call.body)
    required = set(schema.get("required", ()))
    lines = ["| field | type | rules |", "| --- | --- | --- |"]
    for name, raw in schema.get("properties", {}).items():
        field = _resolve(raw)
        rules = _rules(field, required=name in required)
        lines.append(f"| `{name}` | {_type(field)} | {rules} |")
    if len(lines) == 2:  # noqa: PLR2004  the header alone
        return "No fields: send no body, or `{}`.\n"
    return "\n".join(lines) + "\n"


def data_table(kind: Any) -> str:
    """The fields of one success shape and what each means."""
    schema = _schema(kind)
    lines = ["| field | meaning |", "| --- | --- |"]
    for name, raw in schema.get("properties", {}).items():
        field = _resolve(raw)
        meaning = field.get("description") or _type(field)
        lines.append(f"| `{name}` | {meaning} |")
    return "\n".join(lines) + "\n"


def render(text: str, calls: Sequence[CallDoc] = CALLS) -> str:
    """``text`` with every generated table written afresh from ``calls``."""
    by_path = {call.path: call for call in calls}

    def table(match: re.Match[str]) -> str:
        name = match["name"]
        if match["kind"] == "body":
            content = body_table(by_path[name])
        else:
            content = data_table(getattr(replies, name))
        return f"{match['open']}{content}{match['close']}"

    return _BLOCK.sub(table, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=DOC)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    current = args.path.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.stderr.write(f"{args.path} is stale: run python -m xpay_auth.http.apidoc\n")
            return 1
        return 0
    args.path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
