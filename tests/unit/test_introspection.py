"""``POST /oauth/introspect`` (RFC 7662), in-process on every database."""

from __future__ import annotations

import time

import pytest

from tests.envelopes import expired_token, failure, revoke_key
from tests.support import PASSWORD, Harness

INTROSPECTOR = "wallets@services.example"
USER = "ann@example.com"


@pytest.fixture
def caller(harness: Harness) -> str:
    """An API-key token of a service account holding only tme_introspect."""
    harness.create_user(INTROSPECTOR, scopes=("tme_introspect",), password=None)
    _, secret = harness.create_key(INTROSPECTOR)
    return harness.token_for_key(INTROSPECTOR, secret)


def introspect(harness: Harness, caller: str, token: str) -> dict[str, object]:
    response = harness.client.post(
        "/oauth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {caller}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    verdict: dict[str, object] = response.json()
    return verdict


def test_an_active_token_is_described(harness: Harness, caller: str) -> None:
    """An active token's claims come back as the RFC 7662 section 2.2 members."""
    account_id = harness.create_user(USER)
    key_id, secret = harness.create_key(USER)
    login = harness.login(USER, secret)
    claims = harness.runtime.verifier.verify(login["access_token"])
    assert introspect(harness, caller, login["access_token"]) == {
        "active": True,
        "scope": "tme_user",
        "client_id": key_id,
        "username": USER,
        "token_type": "Bearer",
        "exp": login["expiresAt"] // 1000,
        "iat": claims.issued_at,
        "sub": account_id,
        "aud": harness.runtime.settings.audience,
        "iss": harness.runtime.settings.issuer,
        "jti": claims.token_id,
        "sid": login["ticket"],
    }
    dashboard = harness.token_for_password(USER)
    assert introspect(harness, caller, dashboard)["client_id"] == "xpay-dashboard"


def test_inactive_tokens_say_only_that(harness: Harness, caller: str) -> None:
    """Garbage, tampered, expired and revoked tokens all answer exactly {"active": false}."""
    account_id = harness.create_user(USER)
    logged_out = harness.token_for_password(USER)
    harness.post("/client/logout", token=logged_out)
    key_id, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    revoke_key(harness, key_id)
    live = harness.token_for_password(USER)
    header, payload, signature = live.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    expired = expired_token(harness, account_id, USER, ("tme_user",))
    for token in ("garbage", "a.b.c", tampered, expired, logged_out, key_token, "x" * 10_000):
        assert introspect(harness, caller, token) == {"active": False}, token[:40]
    assert introspect(harness, caller, live)["active"] is True


def test_a_json_body_is_accepted_too(harness: Harness, caller: str) -> None:
    """{"token": ...} as JSON gives the same verdict as the form."""
    harness.create_user(USER)
    token = harness.token_for_password(USER)
    response = harness.post("/oauth/introspect", {"token": token}, token=caller)
    assert response.json()["sid"] == harness.runtime.verifier.verify(token).ticket
    assert harness.post("/oauth/introspect", {"token": "nope"}, token=caller).json() == {
        "active": False
    }


def test_operators_may_introspect(harness: Harness) -> None:
    """A tme_admin token may introspect as well as a tme_introspect one."""
    harness.create_user("root@example.com", scopes=("tme_admin",))
    admin = harness.token_for_password("root@example.com")
    assert introspect(harness, admin, admin)["username"] == "root@example.com"


def test_callers_without_a_token_or_the_scope_are_refused(harness: Harness) -> None:
    """No bearer is 401 with a challenge; a token without either scope is 403."""
    harness.create_user(USER)
    user_token = harness.token_for_password(USER)
    response = harness.client.post("/oauth/introspect", data={"token": user_token})
    error = failure(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert error["data"] == {"invalid_token": True}
    response = harness.client.post(
        "/oauth/introspect",
        data={"token": user_token},
        headers={"Authorization": f"Bearer {user_token}"},
    )
    assert failure(response, 403)["data"] == {"required": "tme_introspect"}
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"token=abc", "text/plain", 415),
        (b"<token>abc</token>", "application/xml", 415),
        (b"", "application/x-www-form-urlencoded", 400),
        (b"token=", "application/x-www-form-urlencoded", 400),
        (b"token=a&token=b", "application/x-www-form-urlencoded", 400),
        (b"token=%ff", "application/x-www-form-urlencoded", 400),
        (b"token=\xff", "application/x-www-form-urlencoded", 400),
        (b'{"token": 5}', "application/json", 400),
        (b"{}", "application/json", 400),
        (b"[1]", "application/json", 400),
        (b"token=" + b"a" * 70_000, "application/x-www-form-urlencoded", 413),
    ],
)
def test_malformed_requests_answer_in_the_envelope(
    harness: Harness, caller: str, content: bytes, content_type: str, status: int
) -> None:
    """Wrong content types, missing or repeated tokens and oversized bodies get the envelope."""
    response = harness.client.post(
        "/oauth/introspect",
        content=content,
        headers={"Authorization": f"Bearer {caller}", "Content-Type": content_type},
    )
    failure(response, status)


def test_form_with_charset_and_a_type_hint(harness: Harness, caller: str) -> None:
    """A charset parameter and token_type_hint (RFC 7662 section 2.1) are accepted."""
    harness.create_user(USER)
    token = harness.token_for_password(USER, PASSWORD)
    response = harness.client.post(
        "/oauth/introspect",
        content=f"token={token}&token_type_hint=access_token".encode(),
        headers={
            "Authorization": f"Bearer {caller}",
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        },
    )
    assert response.json()["active"] is True


def test_get_is_not_allowed(harness: Harness, caller: str) -> None:
    """Introspection is POST only; GET answers 405 in the envelope."""
    response = harness.client.get(
        "/oauth/introspect", headers={"Authorization": f"Bearer {caller}"}
    )
    failure(response, 405)


def test_the_verdict_follows_expiry(harness: Harness, caller: str) -> None:
    """A token is active until exp and inactive after it (with the verifier's small leeway)."""
    account_id = harness.create_user(USER)
    now = int(time.time())
    nearly = harness.runtime.issuer.issue(
        subject=account_id,
        username=USER,
        scopes=("tme_user",),
        ticket="ab" * 16,
        client_id="xpay-dashboard",
        issued_at=now - 60,
        expires_at=now + 30,
    )
    assert introspect(harness, caller, nearly)["exp"] == now + 30
    beyond_leeway = harness.runtime.issuer.issue(
        subject=account_id,
        username=USER,
        scopes=("tme_user",),
        ticket="cd" * 16,
        client_id="xpay-dashboard",
        issued_at=now - 120,
        expires_at=now - 30,
    )
    assert introspect(harness, caller, beyond_leeway) == {"active": False}
