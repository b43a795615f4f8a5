"""Operator calls under ``/admin/*``, in-process on every database."""

from __future__ import annotations

import pytest

from tests.envelopes import assert_no_secret_material, audit_events, failure, refused_field, success
from tests.support import PASSWORD, Harness

ADMIN = "root@example.com"
USER = "pat@example.com"


@pytest.fixture
def admin(harness: Harness) -> str:
    """A dashboard token of an operator (tme_admin only)."""
    harness.create_user(ADMIN, scopes=("tme_admin",))
    return harness.token_for_password(ADMIN)


def refused_login(harness: Harness, username: str, secret: str, *, is_api: bool) -> bool:
    body = {"username": username, "secretKey": secret, "isAPI": is_api}
    data = failure(harness.post("/client/authenticate", body))["data"]
    return bool(data == {"invalid": True})


def test_create_user_with_a_password(harness: Harness, admin: str) -> None:
    """A created account is answered without its hash and can log in with its password."""
    body = {"username": " Pat@Example.com ", "scopes": ["tme_user"], "password": PASSWORD}
    response = harness.post("/admin/users/create", body, token=admin)
    assert_no_secret_material(response)
    data = success(response)
    assert data == {
        "id": data["id"],
        "username": USER,
        "scopes": ["tme_user"],
        "disabled": False,
        "hasPassword": True,
        "failedPasswordAttempts": 0,
        "createdAt": data["createdAt"],
    }
    assert harness.login(USER, PASSWORD, is_api=False)["user"]["scopes"] == ["tme_user"]
    event = audit_events(harness, "account.created")[0]
    assert (event.username, event.actor) == (USER, ADMIN)


def test_create_user_defaults_and_refusals(harness: Harness, admin: str) -> None:
    """Scopes default to tme_user; taken names, unknown scopes and weak passwords are refused."""
    data = success(harness.post("/admin/users/create", {"username": USER}, token=admin))
    assert (data["scopes"], data["hasPassword"]) == (["tme_user"], False)
    assert "taken" in refused_field(
        harness.post("/admin/users/create", {"username": USER.upper()}, token=admin), "username"
    )
    refused_field(
        harness.post(
            "/admin/users/create", {"username": "b@example.com", "scopes": ["root"]}, token=admin
        ),
        "scopes",
    )
    weak = {"username": "c@example.com", "password": "short"}
    refused_field(harness.post("/admin/users/create", weak, token=admin), "password")
    refused_field(harness.post("/admin/users/create", {}, token=admin), "username")


def test_search_users_pages_and_filters(harness: Harness, admin: str) -> None:
    """Accounts come newest first in pages, filtered by a part of the username."""
    for number in range(5):
        harness.create_user(f"user{number}@shop.example")
    page = success(
        harness.post("/admin/users/search", {"query": "SHOP", "pageSize": 2}, token=admin)
    )
    assert (page["total"], page["hasNext"], len(page["items"])) == (5, True, 2)
    last = success(
        harness.post(
            "/admin/users/search", {"query": "shop", "pageSize": 2, "page": 3}, token=admin
        )
    )
    assert (len(last["items"]), last["hasNext"]) == (1, False)
    everyone = harness.post("/admin/users/search", None, token=admin)
    assert_no_secret_material(everyone)
    assert success(everyone)["total"] == 6


def test_removing_a_scope_ends_sessions_that_carry_it(harness: Harness, admin: str) -> None:
    """Taking a scope away revokes the account's tokens; a new login carries the new scopes."""
    harness.create_user(USER, scopes=("tme_user", "tme_introspect"))
    token = harness.token_for_password(USER)
    body = {"username": USER, "scopes": ["tme_user"]}
    data = success(harness.post("/admin/users/update", body, token=admin))
    assert data["scopes"] == ["tme_user"]
    failure(harness.post("/client/session", token=token), 401)
    assert harness.login(USER, PASSWORD, is_api=False)["user"]["scopes"] == ["tme_user"]
    event = audit_events(harness, "account.updated")[0]
    assert (event.actor, event.detail) == (
        ADMIN,
        {"scopes": ["tme_user"], "removed": ["tme_introspect"]},
    )


def test_adding_a_scope_keeps_sessions(harness: Harness, admin: str) -> None:
    """Granting a scope leaves existing sessions alone."""
    harness.create_user(USER)
    token = harness.token_for_password(USER)
    body = {"username": USER, "scopes": ["tme_user", "tme_introspect"]}
    assert success(harness.post("/admin/users/update", body, token=admin))["scopes"] == [
        "tme_user",
        "tme_introspect",
    ]
    assert harness.post("/client/session", token=token).status_code == 200


def test_disabling_stops_sessions_keys_and_logins(harness: Harness, admin: str) -> None:
    """A disabled account's tokens get 401 and neither its key nor its password logs in."""
    harness.create_user(USER)
    dashboard = harness.token_for_password(USER)
    _, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    data = success(
        harness.post("/admin/users/update", {"username": USER, "disabled": True}, token=admin)
    )
    assert data["disabled"] is True
    for token in (dashboard, key_token):
        failure(harness.post("/client/session", token=token), 401)
    assert refused_login(harness, USER, secret, is_api=True)
    assert refused_login(harness, USER, PASSWORD, is_api=False)
    assert audit_events(harness, "account.disabled")[0].actor == ADMIN
    enabled = success(
        harness.post("/admin/users/update", {"username": USER, "disabled": "false"}, token=admin)
    )
    assert enabled["disabled"] is False
    assert harness.login(USER, PASSWORD, is_api=False)["user"]["isAPI"] is False
    # Disabling revoked the keys for good: enabling the account does not revive them.
    assert refused_login(harness, USER, secret, is_api=True)


def test_operators_cannot_lock_themselves_out(harness: Harness, admin: str) -> None:
    """An operator may neither disable their own account nor drop their own tme_admin."""
    body = {"username": ADMIN, "disabled": True}
    refused_field(harness.post("/admin/users/update", body, token=admin), "disabled")
    body = {"username": ADMIN, "scopes": ["tme_user"]}
    refused_field(harness.post("/admin/users/update", body, token=admin), "scopes")
    assert harness.post("/client/session", token=admin).status_code == 200


def test_update_refusals(harness: Harness, admin: str) -> None:
    """Unknown accounts are not found; empty or unknown scopes and odd flags name the field."""
    harness.create_user(USER)
    error = failure(
        harness.post("/admin/users/update", {"username": "nobody@example.com"}, token=admin)
    )
    assert error["message"] == "no such account"
    for body, field in (
        ({"username": USER, "scopes": []}, "scopes"),
        ({"username": USER, "scopes": ["tme_root"]}, "scopes"),
        ({"username": USER, "disabled": "yes"}, "disabled"),
    ):
        refused_field(harness.post("/admin/users/update", body, token=admin), field)


def test_revoke_one_session_by_ticket(harness: Harness, admin: str) -> None:
    """An operator ends one session by ticket; the user's other sessions go on."""
    harness.create_user(USER)
    first = harness.login(USER, PASSWORD, is_api=False)
    second = harness.token_for_password(USER)
    body = {"ticket": first["ticket"]}
    assert success(harness.post("/admin/sessions/revoke", body, token=admin)) == {
        "ticket": first["ticket"],
        "revoked": True,
    }
    failure(harness.post("/client/session", token=first["access_token"]), 401)
    assert harness.post("/client/session", token=second).status_code == 200


def test_revoke_every_session_of_a_user(harness: Harness, admin: str) -> None:
    """An operator ends every session of a user; the user's key still logs in afresh."""
    harness.create_user(USER)
    dashboard = harness.token_for_password(USER)
    _, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    data = success(harness.post("/admin/sessions/revoke", {"username": USER}, token=admin))
    assert data == {"username": USER, "revoked": True}
    for token in (dashboard, key_token):
        failure(harness.post("/client/session", token=token), 401)
    assert (
        harness.post("/client/session", token=harness.token_for_key(USER, secret)).status_code
        == 200
    )
    assert audit_events(harness, "account.sessions_revoked")[0].actor == ADMIN


@pytest.mark.parametrize("body", [{}, {"ticket": "a" * 32, "username": USER}, {"ticket": "nope"}])
def test_revoke_sessions_needs_exactly_one_target(
    harness: Harness, admin: str, body: dict[str, str]
) -> None:
    """Neither or both of ticket and username, or a malformed ticket, is refused."""
    refused_field(harness.post("/admin/sessions/revoke", body, token=admin), "ticket")


def test_revoke_any_accounts_key(harness: Harness, admin: str) -> None:
    """An operator revokes another account's key: it and its sessions stop at once."""
    account_id = harness.create_user(USER)
    key_id, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    response = harness.post("/admin/keys/revoke", {"id": key_id}, token=admin)
    assert_no_secret_material(response)
    data = success(response)
    assert (data["id"], data["status"], data["accountId"]) == (key_id, "revoked", account_id)
    failure(harness.post("/client/session", token=key_token), 401)
    assert refused_login(harness, USER, secret, is_api=True)
    assert failure(harness.post("/admin/keys/revoke", {"id": "f" * 16}, token=admin))[
        "message"
    ] == ("no such key")
    event = audit_events(harness, "key.revoked")[0]
    assert (event.key_id, event.actor) == (key_id, ADMIN)


def test_a_leaked_operator_key_cannot_create_or_change_credentials(harness: Harness) -> None:
    """An operator's API-key token gets 403 on creating an account or changing one, so it
    cannot make itself a password login that mints keys; revoking and reading still work."""
    harness.create_user(ADMIN, scopes=("tme_admin",))
    harness.create_user(USER)
    target_key, _ = harness.create_key(USER)
    _, secret = harness.create_key(ADMIN)
    leaked = harness.token_for_key(ADMIN, secret)
    created = {"username": "mole@example.com", "scopes": ["tme_admin"], "password": PASSWORD}
    error = failure(harness.post("/admin/users/create", created, token=leaked), 403)
    assert error["data"] == {"required": "dashboard session"}
    assert refused_login(harness, "mole@example.com", PASSWORD, is_api=False)
    for change in ({"scopes": ["tme_user", "tme_admin"]}, {"unlockPassword": True}):
        body = {"username": USER, **change}
        failure(harness.post("/admin/users/update", body, token=leaked), 403)
    assert (
        success(harness.post("/admin/users/search", {"query": "pat"}, token=leaked))["total"] == 1
    )
    success(harness.post("/admin/keys/revoke", {"id": target_key}, token=leaked))
    assert [event.username for event in audit_events(harness, "account.created")] == [
        USER,
        ADMIN,
    ]


def test_the_read_only_operator_scope_reads_and_changes_nothing(harness: Harness) -> None:
    """A tme_admin_read key searches accounts and the audit trail; every change is 403."""
    harness.create_user("reports@example.com", scopes=("tme_admin_read",), password=None)
    harness.create_user(USER)
    target_key, _ = harness.create_key(USER)
    _, secret = harness.create_key("reports@example.com")
    reader = harness.token_for_key("reports@example.com", secret)
    assert (
        success(harness.post("/admin/users/search", {"query": "pat"}, token=reader))["total"] == 1
    )
    success(harness.post("/admin/audit/search", {"event": "key.created"}, token=reader))
    for path, body in (
        ("/admin/users/create", {"username": "x@example.com"}),
        ("/admin/users/update", {"username": USER, "disabled": True}),
        ("/admin/sessions/revoke", {"username": USER}),
        ("/admin/keys/revoke", {"id": target_key}),
    ):
        error = failure(harness.post(path, body, token=reader), 403)
        assert error["data"]["required"] in {"tme_admin", "dashboard session"}
