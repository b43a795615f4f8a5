"""A storage failure on any write path logs no hash, HMAC, token, secret or bound parameter.

Every table is made to refuse every write with a trigger (a real failure of the real database,
on SQLite and on PostgreSQL); then each call that writes credentials or sessions is sent, and
every log record of the run, formatted as the service formats it, is scanned.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from tests.conftest import every_backend
from tests.envelopes import failure
from tests.support import PASSWORD, Harness
from xpay_auth.logs import JsonFormatter

if TYPE_CHECKING:
    from xpay_auth.runtime import Runtime

ADMIN = "root-operator"
USER = "pat@example.com"
NEW_PASSWORD = "Tq8-vortex-lantern-9Xe-plum"
TABLES = ("accounts", "api_keys", "sessions", "revocations", "signing_keys", "audit_events")
_JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
_HEX_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


async def _refuse_writes(runtime: Runtime) -> None:
    """Make every table refuse every write, as a failing database would.

    SQLite's trigger names a table that does not exist (an operational error, as a full disk
    or a lost file gives); PostgreSQL's raises an I/O error (SQLSTATE 58030).
    """
    async with runtime.database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for table in TABLES:
                for action in ("INSERT", "UPDATE", "DELETE"):
                    await conn.execute(
                        text(
                            f"CREATE TRIGGER refuse_{table}_{action.lower()} BEFORE {action} "  # noqa: S608  fixed names
                            f"ON {table} BEGIN INSERT INTO writes_refused VALUES (1); END"
                        )
                    )
            return
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'writes refused' USING ERRCODE = 'io_error'; END $$"
            )
        )
        for table in TABLES:
            await conn.execute(
                text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE OR DELETE "
                    f"ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_writes()"
                )
            )


async def _allow_writes(runtime: Runtime) -> None:
    """Remove the refusing triggers, so the test database can be used and dropped."""
    async with runtime.database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # A connection that compiled a statement with its trigger may run it once more;
            # with the table in place that run succeeds as well.
            await conn.execute(text("CREATE TABLE writes_refused (x INTEGER)"))
            for table in TABLES:
                for action in ("insert", "update", "delete"):
                    await conn.execute(text(f"DROP TRIGGER refuse_{table}_{action}"))
            return
        await conn.execute(text("DROP FUNCTION refuse_writes() CASCADE"))


@every_backend
def test_a_storage_failure_on_any_write_path_logs_no_secret(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Each write path answers 503 while writes fail, and the log holds no secret material."""
    harness.create_user(ADMIN, scopes=("tme_admin", "tme_user"))
    harness.create_user(USER)
    admin = harness.token_for_password(ADMIN)
    user = harness.token_for_password(USER)
    key_id, secret = harness.create_key(USER)
    key_token = harness.token_for_key(USER, secret)
    old_hmac = harness.runtime.key_hasher.digest(secret)
    server_secret = harness.runtime.settings.secret_key
    assert server_secret is not None

    harness.run(_refuse_writes)
    caplog.set_level(logging.DEBUG)
    calls = [
        ("/admin/users/create", {"username": "new@example.com", "password": NEW_PASSWORD}, admin),
        (
            "/client/password/change",
            {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            user,
        ),
        ("/client/keys/create", {"name": "ci"}, user),
        ("/client/keys/rotate", {"id": key_id, "graceSeconds": 0}, user),
        ("/client/keys/revoke", {"id": key_id}, user),
        ("/admin/keys/revoke", {"id": key_id}, admin),
        ("/admin/users/update", {"username": USER, "disabled": True}, admin),
        ("/admin/sessions/revoke", {"username": USER}, admin),
        ("/client/logout", {}, key_token),
    ]
    responses = {path: harness.post(path, body, token=token) for path, body, token in calls}
    # A login commits its session and audit event, a wrong password its failure count,
    # before it is answered: both answer 503 here.
    logins = [
        harness.post(
            "/client/authenticate", {"username": USER, "secretKey": secret, "isAPI": True}
        ),
        harness.post(
            "/client/authenticate", {"username": USER, "secretKey": "wrong", "isAPI": False}
        ),
    ]
    harness.run(_allow_writes)
    for login in logins:
        failure(login, 503)

    statuses = {path: response.status_code for path, response in responses.items()}
    # Calls that reached storage answer 503; the others were refused before writing (a key
    # revoked by the first revoke call, for example, is not revoked twice).
    assert {"/admin/users/create", "/client/keys/create", "/client/keys/rotate"} <= {
        path for path, status in statuses.items() if status == 503
    }, {path: response.text for path, response in responses.items()}
    for response in responses.values():
        if response.status_code == 503:
            failure(response, 503)
    formatter = JsonFormatter()
    log = "\n".join(formatter.format(record) for record in caplog.records)
    assert "writes_refused" in log or "writes refused" in log  # the failures reached the log
    for needle in (
        "$argon2",
        PASSWORD,
        NEW_PASSWORD,
        secret,
        "xpsk_",
        server_secret.get_secret_value(),
        old_hmac.hex(),
        repr(old_hmac)[2:-1],
        "[parameters:",
    ):
        assert needle not in log, needle
    assert not _JWT.search(log)
    assert not _HEX_DIGEST.search(log)
