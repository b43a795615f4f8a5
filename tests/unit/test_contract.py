"""The contract module: request uuid, strict JSON bodies, content types, envelopes."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from xpay_auth import contract
from xpay_auth.errors import BadRequest, InternalError, InvalidCredentials, UnsupportedMediaType


def _is_uuid4(value: str) -> bool:
    parsed = uuid.UUID(value)
    return parsed.version == 4 and str(parsed) == value


def test_request_uuid_echoes_a_v4() -> None:
    """A valid UUID v4 header comes back exactly as sent, whatever its case."""
    sent = str(uuid.uuid4())
    assert contract.request_uuid(sent) == sent
    assert contract.request_uuid(sent.upper()) == sent.upper()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not-a-uuid",
        "c232ab00-9414-11ec-b3c8-9f6bdeced846",  # a version-1 UUID
        "00000000-0000-0000-0000-000000000000",
        "f8623092-a59a-4ceb-bc75-18e59815d5dfx",
        " f8623092-a59a-4ceb-bc75-18e59815d5df",
        "f8623092a59a4cebbc7518e59815d5df",
    ],
)
def test_request_uuid_replaces_anything_else_with_a_fresh_v4(raw: str | None) -> None:
    """An absent, malformed or non-v4 header is replaced by a fresh UUID v4."""
    first, second = contract.request_uuid(raw), contract.request_uuid(raw)
    assert _is_uuid4(first)
    assert first != raw
    assert first != second


def test_parse_json_object_accepts_an_object() -> None:
    """A plain JSON object parses to a dict, with unicode intact."""
    assert contract.parse_json_object('{"a": 1, "b": ["é", null]}'.encode()) == {
        "a": 1,
        "b": ["é", None],
    }


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"username": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"a": NaN}', id="nan"),
        pytest.param(b'{"a": Infinity}', id="infinity"),
        pytest.param(b'{"a": -Infinity}', id="minus-infinity"),
        pytest.param(b'{"a": 1e999}', id="float-overflowing-to-infinity"),
        pytest.param(b'{"isAPI": false, "isAPI": true}', id="duplicate-key"),
        pytest.param(b'{"a": {"b": 1, "b": 2}}', id="nested-duplicate-key"),
        pytest.param(b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}", id="too-deep"),
        pytest.param(b'{"a": ' + b"1" * 5000 + b"}", id="huge-int"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"{} {}", id="trailing-data"),
    ],
)
def test_parse_json_object_refuses_with_bad_request(raw: bytes) -> None:
    """Anything but one strict JSON object is a 400 BadRequest."""
    with pytest.raises(BadRequest) as caught:
        contract.parse_json_object(raw)
    assert caught.value.status == 400


def test_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    """Nesting up to the limit parses; brackets inside strings do not count as nesting."""
    depth = contract.MAX_JSON_DEPTH
    at_limit = b"[" * (depth - 1) + b"]" * (depth - 1)
    assert contract.parse_json_object(b'{"a": ' + at_limit + b"}")
    brackets = json.dumps({"a": "[{" * 100 + '\\"' + "[" * 50}).encode()
    assert contract.parse_json_object(brackets)["a"].startswith("[{")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        " application/json ",
        None,
    ],
)
def test_json_content_types_are_accepted(content_type: str | None) -> None:
    """JSON with any charset, or no content type at all, passes."""
    contract.check_content_type(content_type, body_present=True)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
    ],
)
def test_other_content_types_are_refused_with_415(content_type: str) -> None:
    """Any other type, such as the text/plain browsers send cross-site, is a 415."""
    with pytest.raises(UnsupportedMediaType) as caught:
        contract.check_content_type(content_type, body_present=True)
    assert caught.value.status == 415


def test_empty_content_type_is_accepted_only_with_a_body() -> None:
    """An empty Content-Type header passes with a body and is refused without one."""
    contract.check_content_type("", body_present=True)
    with pytest.raises(UnsupportedMediaType):
        contract.check_content_type("", body_present=False)


def test_success_response_is_the_envelope_with_no_store() -> None:
    """A success renders {"success": {message, data}, "uuid"} and forbids caching."""
    rid = str(uuid.uuid4())
    response = contract.success_response(rid, "Authenticated", {"x": 1}, {"X-Extra": "1"})
    assert response.status_code == 200
    assert json.loads(bytes(response.body)) == {
        "success": {"message": "Authenticated", "data": {"x": 1}},
        "uuid": rid,
    }
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-extra"] == "1"
    assert response.headers["content-type"].startswith("application/json")


def test_error_response_is_the_envelope_and_logs_its_tag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An error renders message, data and a fresh tag, and logs the tag with the detail."""
    rid = str(uuid.uuid4())
    error = InvalidCredentials(detail="api key refused")
    with caplog.at_level(logging.INFO, logger="xpay_auth"):
        response = contract.error_response(rid, error, path="/client/authenticate")
    body = json.loads(bytes(response.body))
    assert response.status_code == 200
    assert body == {
        "error": {"message": "invalid credentials", "data": {"invalid": True}, "tag": error.tag},
        "uuid": rid,
    }
    assert _is_uuid4(error.tag)
    [record] = [r for r in caplog.records if getattr(r, "tag", None) == error.tag]
    assert record.getMessage() == "request.failed"
    assert record.__dict__["detail"] == "api key refused"
    assert record.__dict__["uuid"] == rid


def test_every_error_gets_a_new_tag() -> None:
    """Two errors of the same kind never share a tag."""
    assert InvalidCredentials().tag != InvalidCredentials().tag


def test_internal_error_hides_its_detail_from_the_client() -> None:
    """A 500 shows a generic message; the detail stays out of the body."""
    error = InternalError(detail="KeyError: secret internals")
    response = contract.error_response(str(uuid.uuid4()), error)
    assert response.status_code == 500
    assert b"secret internals" not in response.body
    assert json.loads(bytes(response.body))["error"]["message"] == "internal error"
