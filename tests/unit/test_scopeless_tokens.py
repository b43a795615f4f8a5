"""A key whose scopes have all left its account, and tokens without scope, in-process on
every database."""

from __future__ import annotations

import secrets
import time

from tests.envelopes import audit_events, failure, success
from tests.support import PASSWORD, Harness
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID

ADMIN = "root@example.com"
USER = "svc@example.com"
INTROSPECTOR = "wallets@services.example"


def _scopeless_token(harness: Harness, account_id: str, *, client_id: str) -> str:
    """A token signed with the service's own key that carries no scope at all."""
    now = int(time.time())
    return harness.runtime.issuer.issue(
        subject=account_id,
        username=USER,
        scopes=(),
        ticket=secrets.token_hex(16),
        client_id=client_id,
        issued_at=now,
        expires_at=now + 600,
    )


def test_a_key_whose_scopes_have_all_left_its_account_cannot_log_in(harness: Harness) -> None:
    """Once every scope of a key is taken from its account, the key's login answers
    `invalid credentials`, recorded with the reason, and no token is issued."""
    harness.create_user(ADMIN, scopes=("tme_admin",))
    admin = harness.token_for_password(ADMIN)
    harness.create_user(USER, scopes=("tme_user", "tme_introspect"))
    key_id, secret = harness.create_key(USER, scopes=("tme_introspect",))
    assert harness.login(USER, secret)["user"]["scopes"] == ["tme_introspect"]
    body = {"username": USER, "scopes": ["tme_user"]}
    success(harness.post("/admin/users/update", body, token=admin))
    response = harness.post(
        "/client/authenticate", {"username": USER, "secretKey": secret, "isAPI": True}
    )
    error = failure(response)
    assert (error["message"], error["data"]) == ("invalid credentials", {"invalid": True})
    assert "access_token" not in response.text
    refused = audit_events(harness, "login.failed")[0]
    assert (refused.key_id, refused.outcome, refused.error_tag) == (key_id, "refused", error["tag"])
    assert refused.detail == {"isAPI": True, "reason": "api key has no scope left"}
    # The account's password still logs in, with the scope it kept.
    assert harness.login(USER, PASSWORD, is_api=False)["user"]["scopes"] == ["tme_user"]


def test_no_verification_path_accepts_a_token_without_scope(harness: Harness) -> None:
    """A correctly signed token without scope is 401 on bearer calls and bare forward-auth,
    and inactive to introspection, for key and dashboard sessions alike."""
    account_id = harness.create_user(USER)
    harness.create_user(INTROSPECTOR, scopes=("tme_introspect",), password=None)
    _, secret = harness.create_key(INTROSPECTOR)
    introspector = harness.token_for_key(INTROSPECTOR, secret)
    key_id, _ = harness.create_key(USER)
    for client_id in (key_id, DASHBOARD_CLIENT_ID):
        token = _scopeless_token(harness, account_id, client_id=client_id)
        verified = harness.client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert failure(verified, 401)["data"] == {"invalid_token": True}
        failure(harness.post("/client/session", token=token), 401)
        failure(harness.post("/client/logout", token=token), 401)
        verdict = harness.client.post(
            "/oauth/introspect",
            data={"token": token},
            headers={"Authorization": f"Bearer {introspector}"},
        )
        assert verdict.json() == {"active": False}
