"""Every row of the client contract, against a real server process over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest

from tests.e2e.conftest import Server, server_env
from tests.e2e.helpers import (
    INVALID_TOKEN,
    TICKET,
    UUID4,
    Direct,
    credentials,
    failure,
    success,
    wait_until,
    without_ids,
)
from tests.plain_http import HTTP
from xpay_auth.security import api_keys as key_format
from xpay_auth.security import signing_keys
from xpay_auth.services import accounts, api_keys

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import PostgresDatabases
    from tests.e2e.conftest import ServerFactory
    from xpay_auth.runtime import Runtime

PASSWORD = "a long enough password for the tests"
AUTHENTICATE = "/client/authenticate"
INVALID_CREDENTIALS = {
    "error": {"message": "invalid credentials", "data": {"invalid": True}, "tag": "-"},
    "uuid": "-",
}


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    """The tests here share one server (``shared_server``); each makes accounts of its own."""
    return shared_server


def _raw_post(server: Server, path: str, content: bytes, **headers: str) -> httpx.Response:
    return HTTP.post(f"{server.base_url}{path}", content=content, headers=headers, timeout=30)


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_api_key_login_answers_the_success_envelope(server: Server) -> None:
    """An API key buys the documented success envelope, echoing the request uuid, never cached."""
    [(key_id, secret)] = Direct(server).create_user("alice@example.com", keys=1)
    request_id = str(uuid.uuid4())
    response = server.post(
        AUTHENTICATE,
        credentials("alice@example.com", secret, True),  # noqa: FBT003  the wire value
        headers={"uuid": request_id},
    )
    body = success(response, "Authenticated")
    assert response.json()["uuid"] == request_id
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    data = body["data"]
    assert set(data) == {"success", "expiresAt", "user", "ticket", "access_token"}
    assert data["success"] is True
    assert data["user"] == {"username": "alice@example.com", "scopes": ["tme_user"], "isAPI": True}
    assert TICKET.fullmatch(data["ticket"])
    claims = _claims(data["access_token"])
    assert isinstance(data["expiresAt"], int)
    assert data["expiresAt"] == claims["exp"] * 1000
    assert claims["sid"] == data["ticket"]
    assert claims["client_id"] == key_id
    assert claims["exp"] - claims["iat"] == 3600

    # Usernames are trimmed and case-insensitive; isAPI may be the seed's string "true".
    again = server.login("  ALICE@Example.COM ", secret, is_api="TRUE")
    assert again["user"]["username"] == "alice@example.com"
    assert again["ticket"] != data["ticket"]


def test_request_uuid_is_echoed_or_replaced(server: Server) -> None:
    """A v4 uuid header comes back; an absent or invalid one is replaced by a fresh v4."""
    sent = str(uuid.uuid4())
    for path, method in ((AUTHENTICATE, "POST"), ("/healthz", "GET"), ("/nowhere", "GET")):
        response = HTTP.request(
            method, f"{server.base_url}{path}", json={}, headers={"uuid": sent}, timeout=30
        )
        assert response.json()["uuid"] == sent, path
    seen = set()
    for header in (None, "", "not-a-uuid", str(uuid.uuid1()), sent.replace("-", "")):
        headers = {"uuid": header} if header is not None else {}
        returned = server.post(AUTHENTICATE, {}, headers=headers).json()["uuid"]
        assert UUID4.fullmatch(returned)
        assert returned != header
        seen.add(returned)
    assert len(seen) == 5


def test_password_login_reports_is_api_false(server: Server) -> None:
    """A password login with isAPI false, or the string "False", answers isAPI false."""
    Direct(server).create_user("admin", scopes=("tme_admin",), password=PASSWORD)
    for flag in (False, "False", "false"):
        data = server.login("admin", PASSWORD, is_api=flag)
        assert data["user"] == {"username": "admin", "scopes": ["tme_admin"], "isAPI": False}
        assert _claims(data["access_token"])["client_id"] == "xpay-dashboard"


def test_business_errors_are_200_with_a_new_logged_tag(server: Server) -> None:
    """Each business error is HTTP 200 with a fresh tag that the server log records."""
    request_id = str(uuid.uuid4())
    tags = []
    for _ in range(3):
        response = server.post(
            AUTHENTICATE,
            credentials("ghost@example.com", "wrong", True),  # noqa: FBT003
            headers={"uuid": request_id},
        )
        error = failure(response, 200)
        assert response.json()["uuid"] == request_id
        tags.append(error["tag"])
    assert len(set(tags)) == 3

    def logged() -> bool:
        return all(tag in server.log() for tag in tags)

    wait_until(logged)
    for tag in tags:
        [line] = [line for line in server.log().splitlines() if tag in line]
        entry = json.loads(line)
        assert entry["event"] == "request.failed"
        assert entry["uuid"] == request_id
        assert entry["detail"]
        assert entry["path"] == AUTHENTICATE


FIELD_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"secretKey": "s", "isAPI": True}, "username"),
    ({"username": 42, "secretKey": "s", "isAPI": True}, "username"),
    ({"username": ["a"], "secretKey": "s", "isAPI": True}, "username"),
    ({"username": "a@example.com", "isAPI": True}, "secretKey"),
    ({"username": "a@example.com", "secretKey": None, "isAPI": True}, "secretKey"),
    ({"username": "a@example.com", "secretKey": {"k": 1}, "isAPI": True}, "secretKey"),
    ({"username": "a@example.com", "secretKey": "s"}, "isAPI"),
    ({"username": "a@example.com", "secretKey": "s", "isAPI": None}, "isAPI"),
    ({"username": "a@example.com", "secretKey": "s", "isAPI": 1}, "isAPI"),
    ({"username": "a@example.com", "secretKey": "s", "isAPI": "yes"}, "isAPI"),
    ({"username": "a@example.com", "secretKey": "s", "isAPI": ""}, "isAPI"),
]


def test_field_errors_name_the_field(server: Server) -> None:
    """A missing or ill-typed field is a 200 business error whose data names the field."""
    for body, field in FIELD_ERRORS:
        error = failure(server.post(AUTHENTICATE, body), 200)
        assert error["data"]["field"] == field, body
        assert field in error["message"]


def test_every_wrong_credential_case_answers_identically(server_factory: ServerFactory) -> None:
    """Unknown user, wrong secret, revoked, expired, disabled, wrong kind: one identical body."""
    server = server_factory(XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="1000")
    direct = Direct(server)
    [(alice_key, alice_secret), (revoked_id, revoked_secret), (expired_id, expired_secret)] = (
        direct.create_user("alice@example.com", password=PASSWORD, keys=3)
    )
    [(_, dave_secret)] = direct.create_user("dave@example.com", password=PASSWORD, keys=1)
    direct.create_user("carol@example.com", password=PASSWORD)
    direct.expire_key(expired_id)

    async def revoke_and_disable(runtime: Runtime) -> None:
        await api_keys.revoke_key(
            runtime.services.keys, await api_keys.require_key(runtime.database.api_keys, revoked_id)
        )
        dave = await accounts.require_account(runtime.database.accounts, "dave@example.com")
        await accounts.set_disabled(runtime.services.accounts, dave, disabled=True)

    direct.run(revoke_and_disable)

    cases = {
        "unknown user, key": ("ghost@example.com", key_format.generate().secret, True),
        "unknown user, password": ("ghost@example.com", PASSWORD, False),
        "wrong secret for a real key id": (
            "alice@example.com",
            key_format.generate(alice_key).secret,
            True,
        ),
        "malformed key": (
            "alice@example.com",
            alice_secret[:-1] + ("y" if alice_secret.endswith("x") else "x"),
            True,
        ),
        "wrong password": ("alice@example.com", PASSWORD + "!", False),
        "revoked key": ("alice@example.com", revoked_secret, True),
        "expired key": ("alice@example.com", expired_secret, True),
        "disabled account, key": ("dave@example.com", dave_secret, True),
        "disabled account, password": ("dave@example.com", PASSWORD, False),
        "password sent with isAPI true": ("alice@example.com", PASSWORD, True),
        "key sent with isAPI false": ("alice@example.com", alice_secret, False),
        'key sent with isAPI "false"': ("alice@example.com", alice_secret, "false"),
        "another account's key": ("carol@example.com", alice_secret, True),
    }
    responses = {
        name: server.post(AUTHENTICATE, credentials(*case)) for name, case in cases.items()
    }
    for name, response in responses.items():
        failure(response, 200)
        assert without_ids(response) == INVALID_CREDENTIALS, name
    header_sets = {
        frozenset(k for k in r.headers if k not in {"date", "content-length"})
        for r in responses.values()
    }
    assert len(header_sets) == 1
    tags = {response.json()["error"]["tag"] for response in responses.values()}
    assert len(tags) == len(cases)
    # The refusals are not the server being broken: the right secrets still work.
    assert server.login("alice@example.com", alice_secret)["user"]["isAPI"] is True
    assert server.login("alice@example.com", PASSWORD, is_api=False)["user"]["isAPI"] is False


def test_unknown_fields_are_ignored_and_grant_nothing(server: Server) -> None:
    """Extra fields such as scopes or ticket are ignored: the token carries only what is owned."""
    direct = Direct(server)
    [(key_id, secret)] = direct.create_user("bob@example.com", keys=1)
    [(_, narrow)] = direct.create_user(
        "ops@example.com", scopes=("tme_user", "tme_admin"), keys=1, key_scopes=("tme_user",)
    )
    extras = {
        "scopes": ["tme_admin"],
        "scope": "tme_admin",
        "isAdmin": True,
        "user": {"username": "root", "scopes": ["tme_admin"], "isAPI": False},
        "client_id": "xpay-dashboard",
        "ticket": "0" * 32,
        "expiresAt": 99999999999999,
        "aud": "somewhere-else",
    }
    data = success(
        server.post(AUTHENTICATE, {**credentials("bob@example.com", secret, "true"), **extras})
    )["data"]
    assert data["user"] == {"username": "bob@example.com", "scopes": ["tme_user"], "isAPI": True}
    assert data["ticket"] != "0" * 32
    claims = _claims(data["access_token"])
    assert claims["scope"] == "tme_user"
    assert claims["client_id"] == key_id
    assert claims["aud"] == "xpay-api"
    assert data["expiresAt"] <= (time.time() + 3600 + 5) * 1000
    # A key may carry fewer scopes than its account, and the token carries the key's.
    ops = server.login("ops@example.com", narrow)
    assert ops["user"]["scopes"] == ["tme_user"]
    assert _claims(ops["access_token"])["scope"] == "tme_user"


def test_body_that_is_not_a_json_object_is_400(server: Server) -> None:
    """Non-object, invalid or hostile JSON bodies answer 400 in the envelope, uuid echoed."""
    bodies = [
        b"[]",
        b'"text"',
        b"42",
        b"null",
        b"{",
        b"",
        b'{"username": "\xff"}',
        b'{"isAPI": true, "isAPI": false}',
        b'{"a": NaN}',
        b'{"a": 1e999}',
        b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"a": ' + b"9" * 5000 + b"}",
    ]
    request_id = str(uuid.uuid4())
    for body in bodies:
        response = _raw_post(
            server, AUTHENTICATE, body, **{"content-type": "application/json", "uuid": request_id}
        )
        failure(response, 400)
        assert response.json()["uuid"] == request_id, body
    assert success(HTTP.get(f"{server.base_url}/readyz", timeout=10))


def test_unknown_path_wrong_method_large_body_and_wrong_type(server: Server) -> None:
    """404, 405, 413 and 415 all answer in the error envelope, never an HTML page."""
    base = server.base_url
    for method, path in (("POST", "/client/nothing"), ("GET", "/"), ("GET", "/client/authenticat")):
        response = HTTP.request(method, f"{base}{path}", json={}, timeout=30)
        assert failure(response, 404)["message"]
        assert "<html" not in response.text.lower()
    for method, path in (
        ("GET", AUTHENTICATE),
        ("PUT", AUTHENTICATE),
        ("DELETE", "/client/session"),
        ("POST", "/healthz"),
        ("POST", "/.well-known/jwks.json"),
    ):
        failure(HTTP.request(method, f"{base}{path}", timeout=30), 405)

    limit = 64 * 1024
    too_big = json.dumps({"username": "x" * limit, "secretKey": "s", "isAPI": True}).encode()
    failure(_raw_post(server, AUTHENTICATE, too_big, **{"content-type": "application/json"}), 413)

    def chunks() -> Any:
        for _ in range(10):
            yield b" " * (limit // 8)
        yield b"{}"

    streamed = HTTP.post(
        f"{base}{AUTHENTICATE}",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert "content-length" not in streamed.request.headers
    failure(streamed, 413)

    body = json.dumps(credentials("a@example.com", "s", True)).encode()  # noqa: FBT003
    for content_type in (
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
    ):
        failure(_raw_post(server, AUTHENTICATE, body, **{"content-type": content_type}), 415)
    # JSON with a charset, and a JSON body without any content type, are accepted.
    for headers in ({"content-type": "application/json; charset=utf-8"}, {}):
        response = _raw_post(server, AUTHENTICATE, body, **headers)
        assert failure(response, 200)["data"] == {"invalid": True}
    assert success(HTTP.get(f"{base}/healthz", timeout=10))


def test_bearer_failures_answer_401_with_the_challenge(server: Server) -> None:
    """Missing, malformed, expired, revoked and badly signed bearers answer 401 in the envelope."""
    direct = Direct(server)
    [(_, secret)] = direct.create_user("erin@example.com", keys=1)
    token = server.login("erin@example.com", secret)["access_token"]
    now = int(time.time())
    expired = direct.signed_token(issued_at=now - 7200, expires_at=now - 3600)
    header, payload, signature = token.split(".")
    # A character in the middle carries only signature bits (the last one holds padding).
    flipped = signature[:10] + ("B" if signature[10] != "B" else "C") + signature[11:]
    stranger = signing_keys.generate(0).private_key
    assert stranger is not None
    kid = jwt.get_unverified_header(token)["kid"]
    foreign = jwt.encode(
        _claims(token),
        stranger,
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": kid},
    )
    unsigned = jwt.encode(
        _claims(token), "", algorithm="none", headers={"typ": "at+jwt", "kid": kid}
    )

    assert success(server.post("/client/session", token=token))
    invalid = {
        "malformed header": {"Authorization": "Basic dXNlcjpwYXNz"},
        "scheme alone": {"Authorization": "Bearer"},
        "two tokens": {"Authorization": f"Bearer {token} {token}"},
        "not a JWT": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "badly signed": {"Authorization": f"Bearer {header}.{payload}.{flipped}"},
        "signed by another key": {"Authorization": f"Bearer {foreign}"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
    }
    for path in ("/client/session", "/client/logout"):
        missing = HTTP.post(f"{server.base_url}{path}", timeout=30)
        failure(missing, 401)
        # The contract: every 401, a missing token included, carries the invalid_token challenge.
        assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        for name, headers in invalid.items():
            response = HTTP.post(f"{server.base_url}{path}", headers=headers, timeout=30)
            failure(response, 401)
            assert response.headers["www-authenticate"] == INVALID_TOKEN, name

    assert success(server.post("/client/logout", token=token))["data"]["revoked"] is True
    for path in ("/client/session", "/client/logout"):
        revoked = server.post(path, token=token)
        failure(revoked, 401)
        assert revoked.headers["www-authenticate"] == INVALID_TOKEN


def test_health_readiness_and_key_set(server: Server) -> None:
    """healthz and readyz answer in the envelope; the key set publishes public ES256 keys only."""
    request_id = str(uuid.uuid4())
    health = HTTP.get(f"{server.base_url}/healthz", headers={"uuid": request_id}, timeout=10)
    assert success(health)["data"] == {"status": "ok"}
    assert health.json()["uuid"] == request_id
    ready = HTTP.get(f"{server.base_url}/readyz", timeout=10)
    assert success(ready)["data"]["status"] == "ready"
    jwks = HTTP.get(f"{server.base_url}/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200
    assert jwks.headers["content-type"].startswith("application/jwk-set+json")
    keys = jwks.json()["keys"]
    assert len(keys) == 1
    [key] = keys
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert not {"d", "p", "q", "k"} & set(key)
    assert key["kid"] == signing_keys.thumbprint(signing_keys.public_key_from_jwk(key))


@pytest.mark.postgres
def test_storage_gone_answers_503(postgres_databases: PostgresDatabases, tmp_path: Path) -> None:
    """When the database disappears, readyz and authenticate answer 503 in the envelope."""
    url = postgres_databases.new_database()
    server = Server(env=server_env(url), workdir=tmp_path)
    server.start()
    try:
        [(_, secret)] = Direct(server).create_user("frank@example.com", password=PASSWORD, keys=1)
        assert server.login("frank@example.com", secret)
        postgres_databases.drop(url.rsplit("/", 1)[1])
        ready = HTTP.get(f"{server.base_url}/readyz", timeout=30)
        assert failure(ready, 503)["message"] == "storage unavailable"
        for body in (
            credentials("frank@example.com", secret, True),  # noqa: FBT003
            credentials("frank@example.com", PASSWORD, False),  # noqa: FBT003
        ):
            response = server.post(AUTHENTICATE, body)
            assert failure(response, 503)["message"] == "storage unavailable"
            assert "Traceback" not in response.text
        assert success(HTTP.get(f"{server.base_url}/healthz", timeout=10))
    finally:
        server.stop()
