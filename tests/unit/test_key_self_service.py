"""API key self-service over ``/client/keys/*``, in-process on every database."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from starlette.testclient import TestClient

from tests.envelopes import (
    assert_no_secret_material,
    audit_events,
    failure,
    refused_field,
    success,
)
from tests.support import PASSWORD, Harness
from xpay_auth.app import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from xpay_auth.settings import Settings

USER = "kim@example.com"


@pytest.fixture
def owner(harness: Harness) -> str:
    """A dashboard token of USER, an account with a password and scope tme_user."""
    harness.create_user(USER)
    return harness.token_for_password(USER)


def create(harness: Harness, token: str, **body: object) -> dict[str, object]:
    response = harness.post("/client/keys/create", {"name": "ci", **body}, token=token)
    data: dict[str, object] = success(response)
    assert isinstance(data["secretKey"], str)
    assert_no_secret_material(response, allowed_secret=data["secretKey"])
    return data


def login_refused(harness: Harness, username: str, secret: str) -> bool:
    response = harness.post(
        "/client/authenticate", {"username": username, "secretKey": secret, "isAPI": True}
    )
    return bool(failure(response)["data"] == {"invalid": True})


def test_create_answers_the_secret_once_with_its_metadata(harness: Harness, owner: str) -> None:
    """A new key comes with its secret and metadata, logs in, and is listed without its secret."""
    data = create(harness, owner, expiresInDays=30, allowedCidrs=[])
    assert set(data) >= {
        "secretKey",
        "id",
        "name",
        "prefix",
        "scopes",
        "createdAt",
        "expiresAt",
        "allowedCidrs",
    }
    assert data["prefix"] == f"xpsk_{data['id']}"
    assert data["scopes"] == ["tme_user"]
    assert data["status"] == "active"
    assert isinstance(data["createdAt"], int)
    assert data["expiresAt"] == data["createdAt"] + 30 * 86_400_000
    assert harness.login(USER, str(data["secretKey"]))["user"]["isAPI"] is True
    listing = harness.post("/client/keys/search", {}, token=owner)
    assert_no_secret_material(listing)
    assert [item["id"] for item in success(listing)["items"]] == [data["id"]]


def test_key_scopes_never_exceed_the_account(harness: Harness, owner: str) -> None:
    """Asking for a scope the account lacks is refused naming the field; none is created."""
    reason = refused_field(
        harness.post("/client/keys/create", {"name": "x", "scopes": ["tme_admin"]}, token=owner),
        "scopes",
    )
    assert "tme_admin" in reason
    empty = harness.post("/client/keys/create", {"name": "x", "scopes": []}, token=owner)
    refused_field(empty, "scopes")
    assert success(harness.post("/client/keys/search", {}, token=owner))["total"] == 0


def test_a_key_carries_only_the_scopes_it_was_given(harness: Harness) -> None:
    """An operator's key limited to tme_user logs in with tme_user only."""
    harness.create_user("ops@example.com", scopes=("tme_user", "tme_admin"))
    token = harness.token_for_password("ops@example.com")
    data = create(harness, token, scopes=["tme_user"])
    assert harness.login("ops@example.com", str(data["secretKey"]))["user"]["scopes"] == [
        "tme_user"
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "expiresInDays": 0}, "expiresInDays"),
        ({"name": "x", "expiresInDays": "7"}, "expiresInDays"),
        ({"name": "x", "allowedCidrs": ["not-a-network"]}, "allowedCidrs"),
        ({"name": "x", "allowedCidrs": "10.0.0.0/8"}, "allowedCidrs"),
        ({"name": "x", "scopes": ["tme_user", 3]}, "scopes"),
    ],
)
def test_create_refuses_bad_fields(
    harness: Harness, owner: str, body: dict[str, object], field: str
) -> None:
    """A missing or ill-typed field is a business error naming it."""
    refused_field(harness.post("/client/keys/create", body, token=owner), field)


def test_search_pages_newest_first(harness: Harness, owner: str) -> None:
    """Twenty-five keys come in pages with total and hasNext, newest first by default."""
    for number in range(25):
        create(harness, owner, name=f"key-{number:02d}")
        time.sleep(0.002)  # distinct creation times, so newest-first is observable
    first = success(harness.post("/client/keys/search", {"pageSize": 10}, token=owner))
    assert (first["page"], first["pageSize"], first["total"], first["hasNext"]) == (1, 10, 25, True)
    assert [item["name"] for item in first["items"]] == [f"key-{n:02d}" for n in range(24, 14, -1)]
    last = success(harness.post("/client/keys/search", {"page": 3, "pageSize": 10}, token=owner))
    assert (len(last["items"]), last["hasNext"]) == (5, False)
    assert [item["name"] for item in last["items"]] == [f"key-{n:02d}" for n in range(4, -1, -1)]
    beyond = success(harness.post("/client/keys/search", {"page": 4, "pageSize": 10}, token=owner))
    assert (beyond["items"], beyond["hasNext"], beyond["total"]) == ([], False, 25)
    default = success(harness.post("/client/keys/search", None, token=owner))
    assert (len(default["items"]), default["pageSize"]) == (20, 20)
    oldest = success(harness.post("/client/keys/search", {"sort": "createdAt"}, token=owner))
    assert oldest["items"][0]["name"] == "key-00"
    by_name = success(
        harness.post("/client/keys/search", {"sort": "-name", "pageSize": 3}, token=owner)
    )
    assert [item["name"] for item in by_name["items"]] == ["key-24", "key-23", "key-22"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sort": "secretHash"}, "sort"),
        ({"sort": 1}, "sort"),
        ({"page": 0}, "page"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": True}, "pageSize"),
    ],
)
def test_search_refuses_bad_paging(
    harness: Harness, owner: str, body: dict[str, object], field: str
) -> None:
    """Unknown sort fields and out-of-range pages are refused naming the field."""
    refused_field(harness.post("/client/keys/search", body, token=owner), field)


def test_search_shows_last_use_and_only_the_callers_keys(harness: Harness, owner: str) -> None:
    """lastUsedAt appears once a key has logged in; another account's keys never show."""
    data = create(harness, owner)
    harness.create_user("other@example.com")
    harness.create_key("other@example.com")
    item = success(harness.post("/client/keys/search", {}, token=owner))["items"][0]
    assert item["lastUsedAt"] is None
    before = int(time.time() * 1000)
    harness.login(USER, str(data["secretKey"]))
    listing = success(harness.post("/client/keys/search", {}, token=owner))
    assert listing["total"] == 1
    assert listing["items"][0]["lastUsedAt"] >= before


def test_revoke_stops_the_key_and_its_sessions(harness: Harness, owner: str) -> None:
    """A revoked key no longer logs in and its open sessions get 401; the dashboard stays."""
    data = create(harness, owner)
    secret = str(data["secretKey"])
    key_token = harness.token_for_key(USER, secret)
    assert harness.post("/client/session", token=key_token).status_code == 200
    revoked = success(harness.post("/client/keys/revoke", {"id": data["id"]}, token=owner))
    assert (revoked["id"], revoked["status"]) == (data["id"], "revoked")
    assert isinstance(revoked["revokedAt"], int)
    failure(harness.post("/client/session", token=key_token), 401)
    assert login_refused(harness, USER, secret)
    assert harness.post("/client/session", token=owner).status_code == 200
    again = success(harness.post("/client/keys/revoke", {"id": data["id"]}, token=owner))
    assert again["revokedAt"] == revoked["revokedAt"]
    assert audit_events(harness, "key.revoked")[0].actor == USER


def test_keys_of_other_accounts_look_absent(harness: Harness, owner: str) -> None:
    """Revoking or rotating another account's key answers not found and changes nothing."""
    harness.create_user("other@example.com")
    key_id, secret = harness.create_key("other@example.com")
    for path in ("/client/keys/revoke", "/client/keys/rotate"):
        error = failure(harness.post(path, {"id": key_id}, token=owner))
        assert (error["message"], error["data"]) == ("no such key", {"id": key_id})
    failure(harness.post("/client/keys/revoke", {"id": "0" * 16}, token=owner))
    assert harness.login("other@example.com", secret)["user"]["isAPI"] is True


def test_rotation_keeps_the_old_secret_for_the_grace_period(harness: Harness, owner: str) -> None:
    """During the grace period both secrets log in; after it only the new one does."""
    data = create(harness, owner)
    old = str(data["secretKey"])
    response = harness.post(
        "/client/keys/rotate", {"id": data["id"], "graceSeconds": 2}, token=owner
    )
    rotated = success(response)
    new = str(rotated["secretKey"])
    assert_no_secret_material(response, allowed_secret=new)
    assert new != old
    assert rotated["id"] == data["id"]
    assert rotated["previousSecretExpiresAt"] is not None
    deadline = rotated["previousSecretExpiresAt"] / 1000
    assert harness.login(USER, old)["user"]["isAPI"] is True
    assert harness.login(USER, new)["user"]["isAPI"] is True
    time.sleep(max(0.0, deadline - time.time()) + 0.3)
    assert login_refused(harness, USER, old)
    assert harness.login(USER, new)["user"]["isAPI"] is True
    listing = success(harness.post("/client/keys/search", {}, token=owner))["items"][0]
    assert listing["previousSecretExpiresAt"] is None
    event = audit_events(harness, "key.rotated")[0]
    assert (event.actor, event.key_id, event.detail) == (USER, data["id"], {"graceSeconds": 2})


def test_rotation_grace_defaults_to_a_day_and_is_bounded(harness: Harness, owner: str) -> None:
    """Without graceSeconds the old secret lives a day; outside 0..7 days is refused."""
    data = create(harness, owner)
    for grace in (-1, 7 * 86_400 + 1, "60"):
        body = {"id": data["id"], "graceSeconds": grace}
        refused_field(harness.post("/client/keys/rotate", body, token=owner), "graceSeconds")
    before = int(time.time() * 1000)
    rotated = success(harness.post("/client/keys/rotate", {"id": data["id"]}, token=owner))
    assert before + 86_400_000 <= rotated["previousSecretExpiresAt"] <= before + 86_460_000
    assert harness.login(USER, str(data["secretKey"]))["user"]["isAPI"] is True


def test_zero_grace_ends_the_old_secret_at_once(harness: Harness, owner: str) -> None:
    """graceSeconds 0 is an emergency rotation: the old secret stops immediately."""
    data = create(harness, owner)
    rotated = success(
        harness.post("/client/keys/rotate", {"id": data["id"], "graceSeconds": 0}, token=owner)
    )
    assert login_refused(harness, USER, str(data["secretKey"]))
    assert harness.login(USER, str(rotated["secretKey"]))["user"]["isAPI"] is True


def test_a_revoked_key_cannot_be_rotated(harness: Harness, owner: str) -> None:
    """Rotation of a revoked key answers not found and issues no secret."""
    data = create(harness, owner)
    success(harness.post("/client/keys/revoke", {"id": data["id"]}, token=owner))
    error = failure(harness.post("/client/keys/rotate", {"id": data["id"]}, token=owner))
    assert error["message"] == "no such key"


def test_changes_are_audited_with_the_actor(harness: Harness, owner: str) -> None:
    """key.created names the caller as actor and the request uuid it came with."""
    request_id = "0b5bd2a4-54a3-4b8e-9a53-7c0d8e4f7a11"
    response = harness.post(
        "/client/keys/create", {"name": "audited"}, token=owner, headers={"uuid": request_id}
    )
    data = success(response, request_id)
    event = audit_events(harness, "key.created")[0]
    assert (event.actor, event.key_id, event.request_uuid) == (USER, data["id"], request_id)


@pytest.fixture
def remote_harness(settings: Settings) -> Iterator[Harness]:
    """The app in-process, with requests coming from 10.1.2.3."""
    with TestClient(
        create_app(settings), raise_server_exceptions=False, client=("10.1.2.3", 50000)
    ) as client:
        yield Harness(client)


def test_allowed_cidrs_limit_where_a_key_logs_in(remote_harness: Harness) -> None:
    """A key logs in only from its networks; elsewhere it is invalid credentials."""
    harness = remote_harness
    harness.create_user(USER)
    token = harness.token_for_password(USER, PASSWORD)
    inside = create(harness, token, allowedCidrs=["10.0.0.0/8", "2001:db8::/32"])
    outside = create(harness, token, allowedCidrs=["192.168.0.0/16"])
    single = create(harness, token, allowedCidrs=["10.1.2.3"])
    assert inside["allowedCidrs"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert single["allowedCidrs"] == ["10.1.2.3/32"]
    assert harness.login(USER, str(inside["secretKey"]))["user"]["isAPI"] is True
    assert harness.login(USER, str(single["secretKey"]))["user"]["isAPI"] is True
    assert login_refused(harness, USER, str(outside["secretKey"]))
