"""Schemathesis against a real server through its own OpenAPI description.

Every operation of ``GET /openapi.json`` is called with generated valid and invalid input,
with an operator's token: no answer may be a 5xx, and every answer must match the status
codes, content types, headers and schemas the description declares. A business refusal
(HTTP 200 with ``error``) must moreover be one its call declares: ``invalid field`` naming
a field of the call's own model, with the message naming the same field.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from tests.conftest import make_settings
from tests.e2e.conftest import Server, server_env
from tests.plain_http import HTTP
from tests.support import PASSWORD
from xpay_auth.app import create_app
from xpay_auth.http.calls import CALLS
from xpay_auth.http.openapi import openapi_document
from xpay_auth.http.openapi_calls import refusal_schema
from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts, api_keys

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from schemathesis import Case, CheckContext, Response

OPERATOR = "ops@example.com"
_REFUSALS = {call.path: jsonschema_rs.validator_for(refusal_schema(call)) for call in CALLS}


class UndeclaredRefusal(AssertionError):
    """A business refusal its call does not declare."""


@schemathesis.check
def business_refusals_match_their_declared_shape(
    _ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """An HTTP 200 ``error`` answer is one of the refusals its call declares."""
    validator = _REFUSALS.get(case.path)
    if validator is None or response.status_code != 200:
        return None
    body = response.json()
    if "error" not in body:
        return None
    errors = [error.message for error in validator.iter_errors(body)]
    if errors:
        raise UndeclaredRefusal(f"{case.path}: {body['error']} is not declared: {errors[:3]}")
    error = body["error"]
    if error["message"].startswith("invalid field: "):
        named = error["message"].removeprefix("invalid field: ")
        if named != error["data"]["field"]:
            raise UndeclaredRefusal(f"{case.path}: message names {named}, data {error['data']}")
    return True


CHECKS = [
    business_refusals_match_their_declared_shape,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Live:
    server: Server
    token: str


async def _prepare(url: str, secret: str) -> None:
    async with open_runtime(make_settings(url, secret_key=secret)) as runtime:
        operator = await accounts.create_account(
            runtime.services.accounts, OPERATOR, scopes=("tme_admin", "tme_user"), password=PASSWORD
        )
        await api_keys.create_key(runtime.services.keys, operator, name="one")
        await accounts.create_account(runtime.services.accounts, "client@example.com")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """A real server on SQLite with an operator who has a password and a key."""
    workdir = tmp_path_factory.mktemp("schemathesis")
    shutil.copyfile(sqlite_template, workdir / "xpay-auth.db")
    url = f"sqlite:///{workdir / 'xpay-auth.db'}"
    env = server_env(url, XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="100000")
    asyncio.run(_prepare(url, env["XPAY_AUTH_SECRET_KEY"]))
    server = Server(env=env, workdir=workdir)
    server.start()
    token = server.login(OPERATOR, PASSWORD, is_api=False)["access_token"]
    yield Live(server, token)
    server.stop()
    assert '"status":500' not in server.log()


# The description the server serves is built by this module; a test below checks they match.
schema = schemathesis.openapi.from_dict(
    json.loads(openapi_document()),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all"},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    ),
)


def test_the_server_serves_this_description(live: Live) -> None:
    """GET /openapi.json answers the description these tests generate from, as OpenAPI 3.1."""
    response = HTTP.get(f"{live.server.base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == openapi_document()
    assert response.json()["openapi"] == "3.1.0"


def test_the_description_covers_every_route() -> None:
    """Every route the app registers, with every method, is described."""
    app = create_app(make_settings("sqlite:///unused.db"))
    described = json.loads(openapi_document())["paths"]
    for route in app.routes:
        assert isinstance(route, Route)
        methods = {method.lower() for method in route.methods or ()} - {"head"}
        assert methods <= set(described.get(route.path, {})), route.path


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_description(case: Any, live: Live) -> None:
    """Generated calls to every operation get no 5xx and answers that match the description."""
    # Logging out with the operator's token would end the session the other cases use.
    headers = {} if case.path == "/client/logout" else {"Authorization": f"Bearer {live.token}"}
    case.call_and_validate(base_url=live.server.base_url, headers=headers, checks=CHECKS)


def test_refusals_outside_the_declaration_fail_the_check(live: Live) -> None:
    """A real refusal passes the refusal check; the same naming another call's field fails."""
    response = HTTP.post(
        f"{live.server.base_url}/client/keys/rotate",
        json={"id": "k", "graceSeconds": -1},
        headers={"Authorization": f"Bearer {live.token}"},
        timeout=10,
    )
    body = response.json()
    assert body["error"]["data"] == {
        "field": "graceSeconds",
        "reason": "must be between 0 and 604800",
    }
    validator = _REFUSALS["/client/keys/rotate"]
    assert validator.is_valid(body)
    drifted = {**body, "error": {**body["error"], "message": "invalid field: secretKey"}}
    drifted["error"]["data"] = {"field": "secretKey", "reason": "is required"}
    assert not validator.is_valid(drifted)
    assert not validator.is_valid({**body, "error": {**body["error"], "data": None}})
    assert _REFUSALS["/client/keys/revoke"].is_valid(
        {
            **body,
            "error": {"message": "no such key", "data": {"id": "k"}, "tag": body["error"]["tag"]},
        }
    )
    assert not _REFUSALS["/client/keys/create"].is_valid(
        {
            **body,
            "error": {"message": "no such key", "data": {"id": "k"}, "tag": body["error"]["tag"]},
        }
    )
