"""The operator's command line against real databases, beside a running server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.e2e.conftest import Server, server_env
from tests.e2e.helpers import Direct, credentials, failure, success

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "an operator-chosen password 1234"


def _refused(server: Server, *args: str, stdin: str | None = None) -> str:
    """Run a command that must fail: non-zero exit, a message on stderr, no traceback."""
    result = server.cli(*args, stdin=stdin, check=False)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip(), "no message"
    return result.stderr


def test_errors_exit_non_zero_with_a_clear_message(server: Server) -> None:
    """Unknown accounts or keys, bad input and bad settings exit non-zero and say why."""
    assert "no such account" in _refused(server, "keys", "create", "ghost@example.com")
    assert "no such key" in _refused(server, "keys", "revoke", "0123456789abcdef")
    assert "scopes" in _refused(server, "users", "create", "x@example.com", "--scope", "root")
    assert "password" in _refused(
        server, "users", "create", "y@example.com", "--password-stdin", stdin="short\n"
    )
    Direct(server).create_user("taken@example.com")
    assert "username" in _refused(server, "users", "create", "TAKEN@example.com")
    production = Server(
        env={**server.env, "XPAY_AUTH_ENV": "production", "XPAY_AUTH_SECRET_KEY": "changeme"},
        workdir=server.workdir,
    )
    assert "XPAY_AUTH_SECRET_KEY" in _refused(production, "users", "list")


def test_unmigrated_database_says_to_run_db_upgrade(
    empty_database_url: str, tmp_path: Path
) -> None:
    """On a database without the schema, commands ask for `xpay-auth db upgrade`, which fixes it."""
    operator = Server(env=server_env(empty_database_url), workdir=tmp_path)
    for args in (
        ("users", "list"),
        ("keys", "create", "a@example.com"),
        ("signing-keys", "rotate"),
    ):
        assert "xpay-auth db upgrade" in _refused(operator, *args)
    assert "up to date" in operator.cli("db", "upgrade").stdout
    assert operator.cli("users", "list").stdout == ""


def test_users_and_keys_are_managed_from_the_cli(server: Server) -> None:
    """create, list, revoke and disable act on the running server at once; no secret is listed."""
    created = server.cli(
        "users", "create", "ann@example.com", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert "ann@example.com" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    [(_, ops_secret)] = Direct(server).create_user(
        "ops@example.com", scopes=("tme_user", "tme_admin"), keys=1
    )
    listing = server.cli("users", "list").stdout.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listing}
    assert set(rows) == {"ann@example.com", "ops@example.com"}
    assert rows["ann@example.com"][2:] == ["tme_user", "active", "password"]
    assert rows["ops@example.com"][2:] == ["tme_user tme_admin", "active", "no-password"]

    first = server.create_key("ann@example.com", "--name", "billing", "--expires-in-days", "30")
    assert {"id", "secretKey"} <= set(first)
    assert first["expiresAt"] > first["createdAt"]
    plain = server.cli("keys", "create", "ann@example.com", "--name", "plain").stdout
    second_secret = plain.strip().splitlines()[-1]
    assert second_secret.startswith("xpsk_")
    assert plain.count("xpsk_") == 1

    keys_listing = server.cli("keys", "list", "ann@example.com").stdout
    assert first["id"] in keys_listing
    assert "billing" in keys_listing
    assert "plain" in keys_listing
    for secret in (first["secretKey"], second_secret):
        assert secret not in keys_listing
        assert secret[22:65] not in keys_listing

    token = server.login("ann@example.com", first["secretKey"])["access_token"]
    assert "revoked" in server.cli("keys", "revoke", first["id"]).stdout
    refused = server.post(
        "/client/authenticate",
        credentials("ann@example.com", first["secretKey"], True),  # noqa: FBT003
    )
    assert failure(refused, 200)["data"] == {"invalid": True}
    failure(server.post("/client/session", token=token), 401)

    key_token = server.login("ann@example.com", second_secret)["access_token"]
    dashboard = server.login("ann@example.com", PASSWORD, is_api=False)["access_token"]
    assert success(server.post("/client/session", token=dashboard))
    assert "disabled" in server.cli("users", "disable", "ann@example.com").stdout
    for secret, is_api in ((second_secret, True), (PASSWORD, False)):
        response = server.post(
            "/client/authenticate", credentials("ann@example.com", secret, is_api)
        )
        assert failure(response, 200)["data"] == {"invalid": True}
    for revoked_token in (key_token, dashboard):
        failure(server.post("/client/session", token=revoked_token), 401)
    assert "\tdisabled\t" in server.cli("users", "list").stdout
    # The other account is untouched.
    assert server.login("ops@example.com", ops_secret)["user"]["scopes"] == [
        "tme_user",
        "tme_admin",
    ]
