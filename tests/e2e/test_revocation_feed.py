"""``GET /auth/revocations`` over HTTP on a real server: who may read it, what it keeps.

Rows are counted in the server's database (``Direct``), entries read through the feed with
a verifier's own token (``XPayAuth``), as a guard reads them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Server, ServerFactory
from tests.e2e.guarded import verifier_credentials
from tests.e2e.helpers import INVALID_TOKEN, Direct, failure, success
from tests.plain_http import HTTP
from tests.support import PASSWORD
from xpay_auth.client import XPayAuth
from xpay_auth.storage.models import RevocationRow


@pytest.fixture
def verifier(server: Server) -> XPayAuth:
    credentials = verifier_credentials(server, "feed-reader")
    return XPayAuth(server.base_url, credentials["username"], credentials["secret_key"])


@pytest.fixture(scope="module")
def shared_verifier(shared_server: Server) -> XPayAuth:
    """A verifier of ``shared_server``, for the tests that only read the feed's refusals."""
    credentials = verifier_credentials(shared_server, "feed-reader")
    return XPayAuth(shared_server.base_url, credentials["username"], credentials["secret_key"])


def read_feed(server: Server, auth: XPayAuth, **params: str) -> dict[str, Any]:
    response = HTTP.get(f"{server.base_url}/auth/revocations", params=params, auth=auth, timeout=10)
    data: dict[str, Any] = success(response)["data"]
    return data


def logged_in_tickets(server: Server, username: str, count: int) -> list[dict[str, Any]]:
    server.create_user(username, password=PASSWORD)
    return [server.login(username, PASSWORD, is_api=False) for _ in range(count)]


def test_the_revocation_feed_needs_a_token_with_the_verifier_scope(
    server: Server, verifier: XPayAuth
) -> None:
    """No token is 401, a client's or an operator's token 403; only tme_verifier reads it."""
    anonymous = HTTP.get(f"{server.base_url}/auth/revocations", timeout=10)
    assert failure(anonymous, 401)["data"] == {"invalid_token": True}
    assert anonymous.headers["www-authenticate"] == INVALID_TOKEN
    client = logged_in_tickets(server, "client@example.com", 1)[0]
    server.create_user("ops@example.com", "tme_admin", password=PASSWORD)
    operator = server.login("ops@example.com", PASSWORD, is_api=False)
    for session in (client, operator):
        refused = HTTP.get(
            f"{server.base_url}/auth/revocations",
            headers={"Authorization": f"Bearer {session['access_token']}"},
            timeout=10,
        )
        assert failure(refused, 403)["data"] == {"required": "tme_verifier"}
    data = read_feed(server, verifier)
    assert set(data) == {"revocations", "cursor", "more", "reset", "generatedAt"}
    assert (data["revocations"], data["more"], data["reset"]) == ([], False, True)


def test_the_feed_answers_only_what_changed_after_the_cursor(
    server: Server, verifier: XPayAuth
) -> None:
    """A poll with the cursor of the previous one brings the new revocation and nothing else."""
    sessions = logged_in_tickets(server, "alice@example.com", 4)
    for session in sessions[:3]:
        server.post("/client/logout", token=session["access_token"]).raise_for_status()
    first = read_feed(server, verifier, limit="2")
    assert (len(first["revocations"]), first["more"]) == (2, True)
    second = read_feed(server, verifier, since=first["cursor"], limit="2")
    assert (len(second["revocations"]), second["more"], second["reset"]) == (1, False, False)
    idle = read_feed(server, verifier, since=second["cursor"])
    assert (idle["revocations"], idle["cursor"]) == ([], second["cursor"])
    server.post("/client/logout", token=sessions[3]["access_token"]).raise_for_status()
    latest = read_feed(server, verifier, since=second["cursor"])
    assert [entry["subject"] for entry in latest["revocations"]] == [sessions[3]["ticket"]]


def test_a_cursor_the_feed_cannot_continue_gets_the_snapshot_again(
    server: Server, verifier: XPayAuth
) -> None:
    """A cursor of another database or ahead of the feed is answered with reset and everything."""
    session = logged_in_tickets(server, "bob@example.com", 1)[0]
    server.post("/client/logout", token=session["access_token"]).raise_for_status()
    cursor = read_feed(server, verifier)["cursor"]
    generation, seq = cursor.split(".")
    for foreign in (f"{'0' * 32}.{seq}", f"{generation}.{int(seq) + 1000}"):
        data = read_feed(server, verifier, since=foreign)
        assert data["reset"] is True
        assert [entry["subject"] for entry in data["revocations"]] == [session["ticket"]]


@pytest.mark.parametrize(
    "query",
    [
        "since=nonsense",
        "since=" + "g" * 32 + ".1",
        "since=" + "a" * 32 + ".-1",
        "since=" + "a" * 32 + ".1&since=" + "a" * 32 + ".2",
        "limit=0",
        "limit=2001",
        "limit=ten",
        "limit=" + "9" * 400,
    ],
)
def test_a_malformed_feed_query_is_a_400_naming_the_field(
    shared_server: Server, shared_verifier: XPayAuth, query: str
) -> None:
    """since and limit are checked; a bad one is refused in the envelope, never a 500."""
    response = HTTP.get(
        f"{shared_server.base_url}/auth/revocations?{query}", auth=shared_verifier, timeout=10
    )
    error = failure(response, 400)
    assert error["data"]["field"] in {"since", "limit"}
    assert error["message"] == f"invalid field: {error['data']['field']}"


def test_repeating_a_revocation_adds_no_row(server: Server, verifier: XPayAuth) -> None:
    """Revoking a key, an account's sessions or a ticket again stores nothing more."""
    server.create_user("carol@example.com")
    key = server.create_key("carol@example.com")
    direct = Direct(server)
    server.cli_in_process("keys", "revoke", key["id"])
    rows = direct.count_rows(RevocationRow)
    cursor = read_feed(server, verifier)["cursor"]
    server.cli_in_process("keys", "revoke", key["id"], check=False)
    server.cli_in_process("users", "disable", "carol@example.com")
    after_disable = direct.count_rows(RevocationRow)
    server.cli_in_process("users", "disable", "carol@example.com", check=False)
    assert direct.count_rows(RevocationRow) == after_disable == rows + 1
    changes = read_feed(server, verifier, since=cursor)["revocations"]
    assert [entry["kind"] for entry in changes] == ["account"]


def test_a_logout_entry_lasts_only_as_long_as_its_token(server_factory: ServerFactory) -> None:
    """The entry of a logged-out 60-second token ends with that token, not a day later."""
    server = server_factory(XPAY_AUTH_TOKEN_TTL="60")
    credentials = verifier_credentials(server, "feed-reader")
    verifier = XPayAuth(server.base_url, credentials["username"], credentials["secret_key"])
    session = logged_in_tickets(server, "dave@example.com", 1)[0]
    server.post("/client/logout", token=session["access_token"]).raise_for_status()
    (entry,) = read_feed(server, verifier)["revocations"]
    token_end = session["expiresAt"]
    assert entry["subject"] == session["ticket"]
    # The token's exp, plus the verifiers' leeway (10 s) and a second of issuing slack.
    assert token_end < entry["expiresAt"] <= token_end + 11_000
    assert entry["expiresAt"] < time.time() * 1000 + 90_000


def test_an_account_mark_takes_the_place_of_its_sessions_entries(
    server: Server, verifier: XPayAuth
) -> None:
    """After logouts then disabling the account, one account mark is stored, not the tickets."""
    sessions = logged_in_tickets(server, "erin@example.com", 3)
    for session in sessions:
        server.post("/client/logout", token=session["access_token"]).raise_for_status()
    direct = Direct(server)
    assert direct.count_rows(RevocationRow) == 3
    server.cli_in_process("users", "disable", "erin@example.com")
    assert direct.count_rows(RevocationRow) == 1
    (entry,) = read_feed(server, verifier)["revocations"]
    assert entry["kind"] == "account"
    # A session logged out after the mark (none can log in now) would need its own entry;
    # the old tokens stay refused by the mark.
    for session in sessions:
        response = server.post("/client/session", token=session["access_token"])
        assert response.status_code == 401
