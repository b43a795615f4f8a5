"""``/client/sessions/search`` and ``/client/sessions/revoke``, in-process on every database."""

from __future__ import annotations

import pytest

from tests.envelopes import audit_events, failure, refused_field, revoke_key, success
from tests.support import PASSWORD, Harness

USER = "max@example.com"


@pytest.fixture
def account(harness: Harness) -> str:
    harness.create_user(USER)
    return USER


def tickets(harness: Harness, token: str, **body: object) -> list[str]:
    data = success(harness.post("/client/sessions/search", body, token=token))
    return [item["ticket"] for item in data["items"]]


def test_search_lists_live_sessions_newest_first(harness: Harness, account: str) -> None:
    """Dashboard and API-key sessions are listed with their facts, the caller's marked current."""
    key_id, secret = harness.create_key(account)
    key_login = harness.login(account, secret)
    me = harness.login(account, PASSWORD, is_api=False)
    data = success(harness.post("/client/sessions/search", {}, token=me["access_token"]))
    assert (data["total"], data["hasNext"]) == (2, False)
    first, second = data["items"]
    assert first == {
        "ticket": me["ticket"],
        "createdAt": first["createdAt"],
        "expiresAt": me["expiresAt"],
        "isAPI": False,
        "keyId": None,
        "scopes": ["tme_user"],
        "clientIp": "testclient",
        "current": True,
    }
    assert (second["ticket"], second["isAPI"], second["keyId"], second["current"]) == (
        key_login["ticket"],
        True,
        key_id,
        False,
    )
    assert first["createdAt"] >= second["createdAt"]


def test_search_leaves_out_ended_sessions_and_other_accounts(
    harness: Harness, account: str
) -> None:
    """Logged-out sessions, sessions of revoked keys and other accounts' sessions are not listed."""
    me = harness.login(account, PASSWORD, is_api=False)
    gone = harness.token_for_password(account)
    harness.post("/client/logout", token=gone)
    key_id, secret = harness.create_key(account)
    harness.login(account, secret)
    revoke_key(harness, key_id)
    harness.create_user("someone@example.com")
    harness.token_for_password("someone@example.com")
    assert tickets(harness, me["access_token"]) == [me["ticket"]]


def test_search_pages(harness: Harness, account: str) -> None:
    """Sessions come in pages with total and hasNext."""
    for _ in range(4):
        harness.token_for_password(account)
    token = harness.token_for_password(account)
    data = success(harness.post("/client/sessions/search", {"pageSize": 2, "page": 3}, token=token))
    assert (len(data["items"]), data["total"], data["hasNext"]) == (1, 5, False)
    data = success(harness.post("/client/sessions/search", {"pageSize": 2}, token=token))
    assert (len(data["items"]), data["hasNext"]) == (2, True)


def test_after_a_password_change_only_the_survivors_are_listed(
    harness: Harness, account: str
) -> None:
    """The changing session and a login made right after the change are listed; no other."""
    me = harness.login(account, PASSWORD, is_api=False)
    harness.token_for_password(account)
    new = "another quite long passphrase"
    body = {"currentPassword": PASSWORD, "newPassword": new}
    success(harness.post("/client/password/change", body, token=me["access_token"]))
    # Usually in the same second as the change: only the stored iat tells it survived.
    after = harness.login(account, new, is_api=False)
    assert set(tickets(harness, me["access_token"])) == {me["ticket"], after["ticket"]}


def test_revoke_ends_one_of_the_callers_sessions(harness: Harness, account: str) -> None:
    """Revoking another own session ends it at once; the caller's session goes on."""
    me = harness.login(account, PASSWORD, is_api=False)
    other = harness.login(account, PASSWORD, is_api=False)
    data = success(
        harness.post(
            "/client/sessions/revoke", {"ticket": other["ticket"]}, token=me["access_token"]
        )
    )
    assert data == {"ticket": other["ticket"], "revoked": True, "current": False}
    failure(harness.post("/client/session", token=other["access_token"]), 401)
    assert harness.post("/client/session", token=me["access_token"]).status_code == 200
    assert tickets(harness, me["access_token"]) == [me["ticket"]]
    event = audit_events(harness, "session.revoked")[0]
    assert (event.ticket, event.actor) == (other["ticket"], account)


def test_revoking_the_current_session_logs_out(harness: Harness, account: str) -> None:
    """The caller may end its own session, after which its token gets 401."""
    me = harness.login(account, PASSWORD, is_api=False)
    body = {"ticket": me["ticket"]}
    data = success(harness.post("/client/sessions/revoke", body, token=me["access_token"]))
    assert data["current"] is True
    failure(harness.post("/client/session", token=me["access_token"]), 401)


def test_another_accounts_ticket_answers_not_found(harness: Harness, account: str) -> None:
    """A ticket of another account, or an unknown one, is not found and stays alive."""
    me = harness.token_for_password(account)
    harness.create_user("victim@example.com")
    victim = harness.login("victim@example.com", PASSWORD, is_api=False)
    for ticket in (victim["ticket"], "0" * 32):
        error = failure(harness.post("/client/sessions/revoke", {"ticket": ticket}, token=me))
        assert (error["message"], error["data"]) == ("no such session", {"ticket": ticket})
    assert harness.post("/client/session", token=victim["access_token"]).status_code == 200


@pytest.mark.parametrize("ticket", [None, "", "ABCDEF" * 6, "g" * 32, 12])
def test_revoke_refuses_malformed_tickets(harness: Harness, account: str, ticket: object) -> None:
    """A missing or malformed ticket is refused naming the field."""
    token = harness.token_for_password(account)
    refused_field(
        harness.post("/client/sessions/revoke", {"ticket": ticket}, token=token), "ticket"
    )
