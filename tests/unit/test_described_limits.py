"""One declaration per limit: the served description, docs/api.md and validation agree."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from tests.envelopes import failure
from tests.support import Harness
from xpay_auth.errors import InvalidField
from xpay_auth.http import apidoc, bodies
from xpay_auth.http.calls import CALLS
from xpay_auth.http.openapi import build_document
from xpay_auth.http.wire import TICKET_PATTERN, between, parse

OPERATOR = "ops@example.com"
API_MD = Path(__file__).parents[2] / "docs" / "api.md"
Schema = dict[str, Any]


def test_api_md_tables_are_written_from_the_models() -> None:
    """docs/api.md holds exactly the tables `python -m xpay_auth.http.apidoc` writes."""
    text = API_MD.read_text(encoding="utf-8")
    assert apidoc.render(text) == text, "run: python -m xpay_auth.http.apidoc"
    assert text.count("<!-- generated: body ") == sum(1 for call in CALLS if call.body.model_fields)


class ShortGrace(bodies.KeyRotate):
    grace_seconds: Annotated[int, between(0, 60), Field(alias="graceSeconds")] = 30


def test_a_limit_changed_in_its_model_changes_the_description_the_docs_and_validation() -> None:
    """Changing graceSeconds' limit in the model alone changes all three places at once."""
    calls = tuple(
        replace(call, body=ShortGrace) if call.body is bodies.KeyRotate else call for call in CALLS
    )
    before = build_document()["components"]["schemas"]["KeyRotate"]["properties"]
    after = build_document(calls)["components"]["schemas"]["ShortGrace"]["properties"]
    assert (before["graceSeconds"]["maximum"], after["graceSeconds"]["maximum"]) == (604_800, 60)
    text = API_MD.read_text(encoding="utf-8")
    stale = apidoc.render(text, calls)
    assert stale != text
    assert "| `graceSeconds` | integer | optional; 0 to 60; default `30` |" in stale
    assert parse(bodies.KeyRotate, {"id": "k", "graceSeconds": 61}).grace_seconds == 61
    with pytest.raises(InvalidField) as caught:
        parse(ShortGrace, {"id": "k", "graceSeconds": 61})
    assert caught.value.data == {"field": "graceSeconds", "reason": "must be between 0 and 60"}


def _resolve(document: Schema, schema: Schema) -> Schema:
    if "$ref" in schema:
        return _resolve(document, document["components"]["schemas"][schema["$ref"].split("/")[-1]])
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    return options[0] if len(options) == 1 and "type" not in schema else schema


def _valid(schema: Schema) -> Any:
    if schema.get("pattern") == TICKET_PATTERN:
        return "0" * 32
    return {"string": "x", "integer": schema.get("minimum", 1)}.get(schema.get("type", ""), True)


def _violations(schema: Schema) -> list[Any]:
    """Values just past each limit the field's schema declares."""
    found: list[Any] = []
    if "maxLength" in schema:
        found.append("a" * (schema["maxLength"] + 1))
    if "maximum" in schema:
        found += [schema["maximum"] + 1, schema["minimum"] - 1]
    if "maxItems" in schema:
        found.append(["a"] * (schema["maxItems"] + 1))
        found.append(["a" * (schema["items"]["maxLength"] + 1)])
    if "enum" in schema:
        found.append("not-a-choice")
    if schema.get("pattern") == TICKET_PATTERN:
        found.append("A" * 32)
    return found


def test_every_described_limit_is_enforced_by_its_call(harness: Harness) -> None:
    """Each limit /openapi.json declares, just exceeded, is refused naming that field."""
    harness.create_user(OPERATOR, scopes=("tme_admin", "tme_user"))
    token = harness.token_for_password(OPERATOR)
    document = harness.client.get("/openapi.json").json()
    checked = 0
    for path, item in document["paths"].items():
        operation = item.get("post", {})
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content or path == "/oauth/introspect":
            continue
        body_schema = _resolve(document, content["application/json"]["schema"])
        properties = {
            name: _resolve(document, raw) for name, raw in body_schema.get("properties", {}).items()
        }
        base = {name: _valid(properties[name]) for name in body_schema.get("required", ())}
        for name, schema in properties.items():
            for value in _violations(schema):
                response = harness.post(path, {**base, name: value}, token=token)
                refused = failure(response)["data"]
                assert refused["field"] == name, (path, name, value, refused)
                checked += 1
    # Every call with a limited field was reached, and each kind of limit.
    assert checked > 50


def _field(document: Schema, path: str, name: str) -> Schema:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return _resolve(document, _resolve(document, body["schema"])["properties"][name])


def test_the_description_declares_every_limit_the_code_enforces() -> None:
    """The limits once missing from /openapi.json are declared, with the code's values."""
    document = build_document()
    expected = {
        ("/client/keys/rotate", "graceSeconds"): {"minimum": 0, "maximum": 604_800},
        ("/client/authenticate", "username"): {"maxLength": 384},
        ("/client/authenticate", "secretKey"): {"maxLength": 1024},
        ("/client/password/change", "currentPassword"): {"maxLength": 1024},
        ("/client/password/change", "newPassword"): {"maxLength": 1024},
        ("/admin/users/create", "password"): {"maxLength": 1024},
        ("/admin/users/create", "scopes"): {"maxItems": 32},
        ("/admin/users/update", "scopes"): {"maxItems": 32},
        ("/admin/audit/search", "since"): {"maximum": 253_402_300_799_999},
        ("/admin/audit/search", "until"): {"maximum": 253_402_300_799_999},
    }
    for (path, name), limits in expected.items():
        schema = _field(document, path, name)
        assert {key: schema.get(key) for key in limits} == limits, (path, name)
    cidrs = _field(document, "/client/keys/create", "allowedCidrs")
    assert cidrs["items"] == {"type": "string", "minLength": 1, "maxLength": 64}
    sort = _field(document, "/client/keys/search", "sort")
    assert sort["enum"] == list(bodies.KEY_SORTS)
    assert sort["maxLength"] == 20
