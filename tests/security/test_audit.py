"""The audit trail: every attempt and every change recorded, searchable, and free of secrets."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.security.support import audit_rows, database_text
from tests.support import PASSWORD, Harness, running_app
from xpay_auth.cli.main import cli
from xpay_auth.components import audit_trail
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.services import accounts, api_keys, audit
from xpay_auth.settings import Argon2Profile

if TYPE_CHECKING:
    from xpay_auth.runtime import Runtime
    from xpay_auth.settings import Settings

ADMIN = "root@example.com"


def admin_token(harness: Harness) -> str:
    harness.create_user(ADMIN, scopes=("tme_admin", "tme_user"))
    return harness.token_for_password(ADMIN)


def search(harness: Harness, token: str, **filters: Any) -> dict[str, Any]:
    response = harness.post("/admin/audit/search", filters, token=token)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["success"]["data"]
    return data


def authenticate(harness: Harness, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Send one authenticate call under a fresh request uuid: (uuid, response body)."""
    rid = str(uuid.uuid4())
    response = harness.post("/client/authenticate", body, headers={"uuid": rid})
    assert response.status_code == 200
    return rid, response.json()


def test_every_authentication_attempt_is_recorded(harness: Harness) -> None:
    """Successes, wrong secrets, unknown users and malformed bodies each leave one audit row."""
    harness.create_user("alice@example.com")
    key_id, secret = harness.create_key("alice@example.com")
    token = admin_token(harness)
    ok_uuid, _ = authenticate(
        harness, {"username": " Alice@Example.com", "secretKey": secret, "isAPI": True}
    )
    wrong_key = secret[:-8] + ("A" if secret[-8] != "A" else "B") + secret[-7:]
    bad_uuid, bad = authenticate(
        harness, {"username": "alice@example.com", "secretKey": wrong_key, "isAPI": "true"}
    )
    ghost_uuid, ghost = authenticate(
        harness, {"username": "ghost@example.com", "secretKey": "x" * 20, "isAPI": False}
    )
    invalid_uuid, invalid = authenticate(harness, {"username": "alice@example.com", "isAPI": True})

    items = search(harness, token, pageSize=100)["items"]
    [ok] = audit_rows(items, requestUuid=ok_uuid)
    assert ok["event"] == "login.succeeded"
    assert ok["outcome"] == "ok"
    assert ok["username"] == "alice@example.com"
    assert ok["keyId"] == key_id
    assert ok["clientIp"] == "testclient"
    assert ok["accountId"]
    assert ok["errorTag"] is None
    [refused] = audit_rows(items, requestUuid=bad_uuid)
    assert refused["event"] == "login.failed"
    assert refused["outcome"] == "refused"
    assert refused["errorTag"] == bad["error"]["tag"]
    assert refused["clientIp"] == "testclient"
    [unknown] = audit_rows(items, requestUuid=ghost_uuid)
    assert (unknown["event"], unknown["username"]) == ("login.failed", "ghost@example.com")
    assert unknown["errorTag"] == ghost["error"]["tag"]
    assert unknown["detail"] == {"isAPI": False, "reason": "password refused"}
    [malformed] = audit_rows(items, requestUuid=invalid_uuid)
    assert (malformed["event"], malformed["outcome"]) == ("login.failed", "invalid_request")
    assert malformed["errorTag"] == invalid["error"]["tag"]
    assert malformed["detail"] == {"field": "secretKey"}


def test_hostile_usernames_are_recorded_escaped_and_block_nothing(harness: Harness) -> None:
    """NUL, newline and escape codes in a username are stored escaped; later events still land."""
    token = admin_token(harness)
    hostile = "evil\x00\n\x1b[31m@example.com"
    rid, _ = authenticate(harness, {"username": hostile, "isAPI": True})
    after, _ = authenticate(
        harness, {"username": "next@example.com", "secretKey": "x" * 20, "isAPI": False}
    )
    items = search(harness, token, pageSize=100)["items"]
    [row] = audit_rows(items, requestUuid=rid)
    assert row["username"] == "evil\\x00\\x0a\\x1b[31m@example.com"
    assert audit_rows(items, requestUuid=after)


def test_search_filters_and_pages(harness: Harness) -> None:
    """Each filter narrows the result, and pages walk it newest first without overlap."""
    harness.create_user("bob@example.com")
    key_id, secret = harness.create_key("bob@example.com")
    token = admin_token(harness)
    for _ in range(3):
        harness.login("bob@example.com", secret)
    for _ in range(2):
        authenticate(
            harness,
            {"username": "bob@example.com", "secretKey": "wrong " + PASSWORD, "isAPI": False},
        )

    succeeded = search(harness, token, event="login.succeeded", username="BOB@example.com ")
    assert succeeded["total"] == 3
    failed = search(
        harness, token, event="login.failed", outcome="refused", username="bob@example.com"
    )
    assert failed["total"] == 2
    assert search(harness, token, keyId=key_id, event="login.succeeded")["total"] == 3
    first = search(harness, token, username="bob@example.com", pageSize=2, page=1)
    second = search(harness, token, username="bob@example.com", pageSize=2, page=2)
    assert first["hasNext"] is True
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4
    newest = first["items"][0]["at"]
    assert search(harness, token, username="bob@example.com", since=newest + 1)["total"] == 0
    assert (
        search(harness, token, username="bob@example.com", until=newest + 1)["total"]
        == first["total"]
    )


def test_search_refuses_bad_filters(harness: Harness) -> None:
    """An ill-typed or too long filter is a business error naming the field."""
    token = admin_token(harness)
    for body, field in [
        ({"event": 5}, "event"),
        ({"username": "u" * 400}, "username"),
        ({"since": "yesterday"}, "since"),
        ({"since": 10, "until": 5}, "until"),
        ({"pageSize": 1000}, "pageSize"),
    ]:
        response = harness.post("/admin/audit/search", body, token=token)
        assert response.status_code == 200
        assert response.json()["error"]["data"]["field"] == field


def test_search_needs_an_admin_token(harness: Harness) -> None:
    """Without a token the search answers 401; a client's token gets 403 naming the least scope."""
    harness.create_user("carol@example.com")
    _, secret = harness.create_key("carol@example.com")
    assert harness.post("/admin/audit/search", {}).status_code == 401
    response = harness.post(
        "/admin/audit/search", {}, token=harness.token_for_key("carol@example.com", secret)
    )
    assert response.status_code == 403
    assert response.json()["error"]["data"] == {"required": "tme_admin_read"}


def test_changes_to_accounts_keys_sessions_and_signing_keys_are_recorded(harness: Harness) -> None:
    """Creating, rotating, revoking, disabling and logging out each write their own event."""
    harness.create_user("dave@example.com")
    key_id, secret = harness.create_key("dave@example.com")
    session_token = harness.token_for_key("dave@example.com", secret)
    assert harness.post("/client/logout", token=session_token).status_code == 200

    async def churn(runtime: Runtime) -> None:
        account = await accounts.require_account(runtime.database.accounts, "dave@example.com")
        key = await api_keys.require_key(runtime.database.api_keys, key_id)
        await api_keys.rotate_key(runtime.services.keys, key, grace_seconds=60)
        await api_keys.revoke_key(runtime.services.keys, key)
        await accounts.set_disabled(runtime.services.accounts, account, disabled=True)

    harness.run(churn)
    token = admin_token(harness)
    events = [
        (item["event"], item["keyId"]) for item in search(harness, token, pageSize=100)["items"]
    ]
    for expected in [
        ("account.created", None),
        ("key.created", key_id),
        ("session.logged_out", key_id),
        ("key.rotated", key_id),
        ("key.revoked", key_id),
        ("account.disabled", None),
    ]:
        assert expected in events, expected
    assert any(event == "signing_key.created" for event, _ in events)


def test_a_login_is_answered_only_after_its_audit_row_is_written(harness: Harness) -> None:
    """Right after a login and a refusal are answered, both audit rows are in the table."""
    harness.create_user("erin@example.com")
    _, secret = harness.create_key("erin@example.com")
    for attempt in (secret, secret + "x"):
        rid, _ = authenticate(
            harness, {"username": "erin@example.com", "secretKey": attempt, "isAPI": True}
        )
        query = audit.AuditQuery(request_uuid=rid)

        async def recorded(runtime: Runtime, query: audit.AuditQuery = query) -> Any:
            return await audit.search(runtime.database.audit, query)

        entries, total = harness.run(recorded)
        assert total == 1
        assert entries[0].event == ("login.succeeded" if attempt == secret else "login.failed")


def test_no_secret_password_or_token_reaches_the_database(
    harness: Harness, settings: Settings
) -> None:
    """After logins right and wrong, no table holds a password, an API secret or a token."""
    harness.create_user("frank@example.com", password=PASSWORD)
    _, secret = harness.create_key("frank@example.com")
    tokens = [
        harness.token_for_key("frank@example.com", secret),
        harness.token_for_password("frank@example.com"),
    ]
    wrong_password = PASSWORD + " nope"
    authenticate(
        harness, {"username": "frank@example.com", "secretKey": wrong_password, "isAPI": False}
    )
    authenticate(
        harness, {"username": "frank@example.com", "secretKey": secret + "x", "isAPI": True}
    )
    dump = harness.run(lambda _runtime: database_text(settings.database_url))
    assert "frank@example.com" in dump  # the dump does see the data
    for needle in [
        PASSWORD,
        wrong_password,
        secret,
        secret[-49:],
        *tokens,
        *(t.split(".")[2] for t in tokens),
    ]:
        assert needle not in dump


def test_cli_audit_search(harness: Harness, settings: Settings) -> None:
    """``xpay-auth audit search`` prints the events of a username, as lines or as JSON."""
    harness.create_user("gina@example.com")
    _, secret = harness.create_key("gina@example.com")
    harness.login("gina@example.com", secret)
    authenticate(harness, {"username": "gina@example.com", "secretKey": "nope-" * 5, "isAPI": True})
    env = {
        "XPAY_AUTH_DATABASE_URL": settings.database_url,
        "XPAY_AUTH_SECRET_KEY": settings.server_secret().decode(),
    }
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["audit", "search", "--username", "Gina@example.com", "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["event"] for line in lines] == [
        "login.failed",
        "login.succeeded",
        "key.created",
        "account.created",
    ]
    assert all(line["username"] == "gina@example.com" for line in lines)
    result = runner.invoke(
        cli,
        ["audit", "search", "--event", "login.failed", "--limit", "1"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert "\tlogin.failed\trefused\tgina@example.com\t" in line


def test_password_cap_and_rehash_are_recorded(database_url: str) -> None:
    """Reaching the failure cap and rehashing a password on login each leave an account event."""
    capped = make_settings(database_url, password_max_failures=3, throttle_address_limit=1000)
    with running_app(capped) as app:
        app.create_user("zed@example.com")
        app.create_user("yan@example.com")
        for _ in range(4):
            authenticate(
                app, {"username": "zed@example.com", "secretKey": "no " + PASSWORD, "isAPI": False}
            )
        app.replace_parts(passwords=PasswordHashing(Argon2Profile.OWASP))
        app.token_for_password("yan@example.com")
        disabled, total = app.run(
            lambda runtime: audit.search(
                runtime.database.audit, audit.AuditQuery(event="account.password_disabled")
            )
        )
        assert total == 1
        assert (disabled[0].username, disabled[0].outcome) == ("zed@example.com", "locked")
        assert disabled[0].detail == {"failedPasswordAttempts": 3}
        rehashed, total = app.run(
            lambda runtime: audit.search(
                runtime.database.audit, audit.AuditQuery(event="account.password_rehashed")
            )
        )
        assert total == 1
        assert rehashed[0].username == "yan@example.com"


@given(st.text(max_size=50), st.integers(min_value=1, max_value=60))
def test_stored_text_is_escaped_the_same_on_the_fast_way(value: str, limit: int) -> None:
    """Plain ASCII skips the escaping; any text comes out as the full escaping makes it."""
    escaped = value.translate(audit_trail._CONTROLS).encode("utf-8", "backslashreplace")
    assert audit_trail._clean(value, limit) == escaped.decode("utf-8")[:limit]
