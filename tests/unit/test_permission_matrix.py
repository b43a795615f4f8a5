"""Who may call what: every bearer call against eight kinds of caller, on every database.

Each cell is a fresh caller (and fresh objects to act on), so a call that changes state,
such as logout or a password change, cannot spoil the next cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.envelopes import assert_no_secret_material, expired_token, failure, fresh_uuid, success
from tests.support import PASSWORD, Harness

CALLERS = ("none", "expired", "revoked", "api_key", "dashboard", "admin", "admin_key", "reader_key")
# The scopes of each caller's account; the three last ones are operators.
_ACCOUNT_SCOPES = {
    "admin": ("tme_admin",),
    "admin_key": ("tme_admin",),
    "reader_key": ("tme_admin_read",),
}
NEW_PASSWORD = "a brand new passphrase for the matrix"


@dataclass(frozen=True)
class Cell:
    """A caller and the objects a call may act on."""

    token: str | None
    own_key_id: str  # a key of the caller's account
    own_ticket: str  # a session of the caller's account
    target_username: str  # another account, for the operator calls
    target_key_id: str
    target_token: str
    serial: int


_serials = itertools.count()


def make_cell(harness: Harness, kind: str) -> Cell:
    serial = next(_serials)
    scopes = _ACCOUNT_SCOPES.get(kind, ("tme_user",))
    username = f"{kind}-{serial}@example.com"
    account_id = harness.create_user(username, scopes=scopes)
    own_key_id, own_secret = harness.create_key(username)
    target = f"target-{serial}@example.com"
    harness.create_user(target)
    target_key_id, target_secret = harness.create_key(target)
    target_token = harness.token_for_key(target, target_secret)
    dashboard = harness.login(username, PASSWORD, is_api=False)
    token: str | None = dashboard["access_token"]
    ticket = dashboard["ticket"]
    if kind == "none":
        token = None
    elif kind == "expired":
        token = expired_token(harness, account_id, username, scopes)
    elif kind == "revoked":
        assert harness.post("/client/logout", token=token).status_code == 200
    elif kind in {"api_key", "admin_key", "reader_key"}:
        login = harness.login(username, own_secret)
        token, ticket = login["access_token"], login["ticket"]
    return Cell(token, own_key_id, ticket, target, target_key_id, target_token, serial)


Body = Callable[[Cell], Any]

# path -> (body for the call, expected status per caller in CALLERS order). An operator's
# API key ("admin_key") may read and take access away, never create or change credentials;
# "reader_key" (tme_admin_read) may only read.
_SELF_SERVICE = (401, 401, 401, 403, 200, 200, 403, 403)
_IN_PERSON = (401, 401, 401, 403, 403, 200, 403, 403)
_READ = (401, 401, 401, 403, 403, 200, 200, 200)
_TAKE_AWAY = (401, 401, 401, 403, 403, 200, 200, 403)
_ANY = (401, 401, 401, 200, 200, 200, 200, 200)
_INTROSPECT = (401, 401, 401, 403, 403, 200, 200, 403)
MATRIX: dict[str, tuple[Body, tuple[int, ...]]] = {
    "/client/session": (lambda _: None, _ANY),
    "/client/logout": (lambda _: None, _ANY),
    "/client/keys/create": (lambda _: {"name": "matrix"}, _SELF_SERVICE),
    "/client/keys/search": (lambda _: {}, _SELF_SERVICE),
    "/client/keys/revoke": (lambda c: {"id": c.own_key_id}, _SELF_SERVICE),
    "/client/keys/rotate": (lambda c: {"id": c.own_key_id, "graceSeconds": 60}, _SELF_SERVICE),
    "/client/password/change": (
        lambda _: {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        _SELF_SERVICE,
    ),
    "/client/sessions/search": (lambda _: {}, _SELF_SERVICE),
    "/client/sessions/revoke": (lambda c: {"ticket": c.own_ticket}, _SELF_SERVICE),
    "/admin/users/create": (
        lambda c: {"username": f"created-{c.serial}@example.com", "scopes": ["tme_user"]},
        _IN_PERSON,
    ),
    "/admin/users/search": (lambda _: {"query": "target"}, _READ),
    "/admin/users/update": (
        lambda c: {"username": c.target_username, "disabled": True},
        _IN_PERSON,
    ),
    "/admin/sessions/revoke": (lambda c: {"username": c.target_username}, _TAKE_AWAY),
    "/admin/keys/revoke": (lambda c: {"id": c.target_key_id}, _TAKE_AWAY),
    "/admin/audit/search": (lambda _: {"event": "key.created"}, _READ),
    "/oauth/introspect": (lambda c: {"token": c.target_token}, _INTROSPECT),
    "/auth/verify": (lambda _: None, _ANY),
    # A GET: only a verifier's token (tme_verifier) reads the feed, no client or operator.
    "/auth/revocations": (lambda _: None, (401, 401, 401, 403, 403, 403, 403, 403)),
}


def _check_cell(harness: Harness, path: str, kind: str, status: int) -> None:
    cell = make_cell(harness, kind)
    body = MATRIX[path][0](cell)
    request_id = fresh_uuid()
    headers = {"uuid": request_id}
    if path == "/oauth/introspect":
        # RFC 7662 section 2.1: a form body.
        if cell.token is not None:
            headers["Authorization"] = f"Bearer {cell.token}"
        response = harness.client.post(path, data=body, headers=headers)
    elif path == "/auth/revocations":
        if cell.token is not None:
            headers["Authorization"] = f"Bearer {cell.token}"
        response = harness.client.get(path, headers=headers)
    else:
        response = harness.post(path, body, token=cell.token, headers=headers)
    assert_no_secret_material(response, allowed_secret=_issued_secret(response))
    if status == 200 and path == "/oauth/introspect":
        # The bare RFC 7662 object, not the envelope; the request uuid comes as a header.
        assert response.status_code == 200, response.text
        verdict = response.json()
        assert verdict["active"] is True
        assert verdict["username"] == cell.target_username
        assert response.headers["uuid"] == request_id
    elif status == 200:
        success(response, request_id)
    else:
        error = failure(response, status, request_id)
        challenge = response.headers["www-authenticate"]
        if status == 401:
            assert error["data"] == {"invalid_token": True}
            assert challenge == 'Bearer error="invalid_token"'
        else:
            assert challenge.startswith('Bearer error="insufficient_scope"')
            assert "required" in error["data"]


def _issued_secret(response: Any) -> str | None:
    if response.status_code != 200 or "success" not in response.text:
        return None
    data = response.json().get("success", {}).get("data")
    secret = data.get("secretKey") if isinstance(data, dict) else None
    return secret if isinstance(secret, str) else None


@pytest.mark.parametrize("path", list(MATRIX))
def test_permission_matrix(harness: Harness, path: str) -> None:
    """Each of eight callers gets the status and envelope the matrix states for this call."""
    mismatches = []
    for kind, status in zip(CALLERS, MATRIX[path][1], strict=True):
        try:
            _check_cell(harness, path, kind, status)
        except AssertionError as exc:
            mismatches.append(f"{kind}: expected {status}: {str(exc)[:300]}")
    assert not mismatches, "\n".join(mismatches)
