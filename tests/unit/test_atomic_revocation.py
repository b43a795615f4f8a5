"""A change and its revocation commit together, and repeating a revocation changes nothing:
a storage failure injected between the two writes, then a retry, in-process."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from tests.envelopes import audit_events, failure, success
from tests.support import PASSWORD, Harness
from xpay_auth.logs import now_ms
from xpay_auth.security.revocation import RevocationSet
from xpay_auth.storage.rows import revocations

if TYPE_CHECKING:
    from collections.abc import Iterator

    from xpay_auth.runtime import Runtime

ADMIN = "root@example.com"
USER = "pat@example.com"
INTROSPECTOR = "wallets@services.example"
# The statements that store a revocation entry, whatever shape the repository gives them.
_REVOCATION_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE) revocations\b", re.IGNORECASE)


@contextmanager
def failing_revocation_write(harness: Harness) -> Iterator[list[str]]:
    """The first write to the revocations table fails as if the database had gone away."""
    engine = harness.runtime.database.engine.sync_engine
    failed: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not failed and _REVOCATION_WRITE.match(statement):
            failed.append(statement)
            raise OperationalError(statement, None, ConnectionError("injected failure"))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert failed, "no revocation was written"


def _revocation_rows(harness: Harness) -> int:
    async def count(runtime: Runtime) -> int:
        async with runtime.database.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(revocations))).scalar_one()
            )

    return harness.run(count)


def _guard_refuses(harness: Harness, token: str) -> bool:
    """Whether a guard holding the feed's full snapshot refuses the (well-signed) token."""

    async def check(runtime: Runtime) -> bool:
        index = RevocationSet.of(await runtime.database.revocations.active(now_ms()))
        return index.is_revoked(runtime.verifier.verify(token))

    return harness.run(check)


def _tokens_refused_everywhere(harness: Harness, tokens: list[str]) -> None:
    """Each token is 401 on a bearer call and on forward-auth, inactive to introspection,
    and revoked in the guard's index of the feed."""
    harness.create_user(INTROSPECTOR, scopes=("tme_introspect",), password=None)
    _, secret = harness.create_key(INTROSPECTOR)
    introspector = harness.token_for_key(INTROSPECTOR, secret)
    for token in tokens:
        failure(harness.post("/client/session", token=token), 401)
        verified = harness.client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert verified.status_code == 401, verified.text
        verdict = harness.client.post(
            "/oauth/introspect",
            data={"token": token},
            headers={"Authorization": f"Bearer {introspector}"},
        )
        assert verdict.json() == {"active": False}
        assert _guard_refuses(harness, token)


def _setup(harness: Harness) -> tuple[str, list[str]]:
    """An operator's dashboard token, and a dashboard and a key token of USER."""
    harness.create_user(ADMIN, scopes=("tme_admin",))
    admin = harness.token_for_password(ADMIN)
    harness.create_user(USER, scopes=("tme_user", "tme_introspect"))
    _, secret = harness.create_key(USER)
    return admin, [harness.token_for_password(USER), harness.token_for_key(USER, secret)]


def test_a_scope_removal_that_fails_between_its_writes_is_completed_by_a_retry(
    harness: Harness,
) -> None:
    """A failure storing the revocation undoes the scope change (503); the retry makes both,
    and the old tokens are refused everywhere."""
    admin, tokens = _setup(harness)
    body = {"username": USER, "scopes": ["tme_user"]}
    with failing_revocation_write(harness):
        failure(harness.post("/admin/users/update", body, token=admin), 503)
    account = harness.run(lambda rt: rt.database.accounts.by_username(USER))
    assert account is not None
    assert account.scopes == ("tme_user", "tme_introspect")
    assert harness.post("/client/session", token=tokens[0]).status_code == 200
    assert success(harness.post("/admin/users/update", body, token=admin))["scopes"] == ["tme_user"]
    _tokens_refused_everywhere(harness, tokens)
    assert harness.login(USER, PASSWORD, is_api=False)["user"]["scopes"] == ["tme_user"]
    assert len(audit_events(harness, "account.updated")) == 1


def test_disabling_that_fails_between_its_writes_is_completed_by_a_retry(
    harness: Harness,
) -> None:
    """A failure storing the revocation leaves the account enabled (503); the retry disables
    it, revokes its keys, and the old tokens are refused everywhere."""
    admin, tokens = _setup(harness)
    body = {"username": USER, "disabled": True}
    with failing_revocation_write(harness):
        failure(harness.post("/admin/users/update", body, token=admin), 503)
    account = harness.run(lambda rt: rt.database.accounts.by_username(USER))
    assert account is not None
    assert account.disabled is False
    assert success(harness.post("/admin/users/update", body, token=admin))["disabled"] is True
    _tokens_refused_everywhere(harness, tokens)
    assert len(audit_events(harness, "account.disabled")) == 1


def test_revoking_a_key_is_one_change_and_repeating_it_adds_nothing(harness: Harness) -> None:
    """A failure storing the key's revocation leaves the key live (503); the retry revokes it
    and its sessions; revoking it again adds no revocation row and no audit event."""
    harness.create_user(USER)
    owner = harness.token_for_password(USER)
    key_id, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    with failing_revocation_write(harness):
        failure(harness.post("/client/keys/revoke", {"id": key_id}, token=owner), 503)
    key = harness.run(lambda rt: rt.database.api_keys.by_id(key_id))
    assert key is not None
    assert key.revoked_at_ms is None
    success(harness.post("/client/keys/revoke", {"id": key_id}, token=owner))
    _tokens_refused_everywhere(harness, [key_token])
    rows = _revocation_rows(harness)
    success(harness.post("/client/keys/revoke", {"id": key_id}, token=owner))
    assert _revocation_rows(harness) == rows
    assert len(audit_events(harness, "key.revoked")) == 1
