"""``POST /oauth/token`` (client credentials) and the RFC 8414 metadata, in-process."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.security.support import database_text
from tests.support import Harness, mistyped, running_app
from xpay_auth.app import create_app
from xpay_auth.services import audit
from xpay_auth.settings import Settings

TOKEN = "/oauth/token"
METADATA = "/.well-known/oauth-authorization-server"
ALICE = "alice@example.com"
CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}
CHALLENGE = 'Basic realm="xpay-auth", charset="UTF-8"'


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def request_token(
    harness: Harness, form: dict[str, str] | str, headers: dict[str, str] | None = None
) -> Any:
    content = (
        form if isinstance(form, str) else "&".join(f"{k}={quote(v)}" for k, v in form.items())
    )
    return harness.client.post(
        TOKEN,
        content=content.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    """An RFC 6749 section 5.2 answer: ``error`` code, description, uuid and tag; no caching."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert set(body) == {"error", "error_description", "tag", "uuid"}
    assert uuid.UUID(body["tag"]).version == 4
    assert response.headers["uuid"] == body["uuid"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    return body


@pytest.fixture
def alice(harness: Harness) -> tuple[str, str]:
    """An account with one API key: (key id, secret)."""
    harness.create_user(ALICE)
    return harness.create_key(ALICE)


def test_basic_client_gets_the_same_token_and_session_as_authenticate(
    harness: Harness, alice: tuple[str, str]
) -> None:
    """Basic-authenticated client credentials answer RFC 6749 section 5.1 with a working token."""
    key_id, secret = alice
    response = request_token(harness, CLIENT_CREDENTIALS, basic(ALICE, secret))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "tme_user"
    assert abs(body["expires_in"] - harness.runtime.settings.token_ttl) <= 2
    claims = harness.runtime.verifier.verify(body["access_token"])
    assert abs(claims.expires_at - (time.time() + body["expires_in"])) <= 2
    reference = harness.runtime.verifier.verify(harness.token_for_key(ALICE, secret))
    assert (claims.username, claims.scopes, claims.key_id, claims.is_api) == (
        reference.username,
        reference.scopes,
        reference.key_id,
        reference.is_api,
    )
    assert claims.key_id == key_id
    session = harness.post("/client/session", token=body["access_token"])
    assert session.json()["success"]["data"]["ticket"] == claims.ticket
    assert harness.post("/client/logout", token=body["access_token"]).status_code == 200
    assert harness.post("/client/session", token=body["access_token"]).status_code == 401


def test_post_client_authenticates_in_the_body(harness: Harness, alice: tuple[str, str]) -> None:
    """client_secret_post: client_id and client_secret in the form body buy a token too."""
    form = {**CLIENT_CREDENTIALS, "client_id": " Alice@Example.com", "client_secret": alice[1]}
    response = request_token(harness, form)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "tme_user"


def test_basic_credentials_are_form_decoded(harness: Harness) -> None:
    """RFC 6749 section 2.3.1: an id sent form-encoded inside Basic is decoded; raw works too."""
    harness.create_user("a+b%c@example.com")
    _, secret = harness.create_key("a+b%c@example.com")
    encoded = quote("a+b%c@example.com", safe="")
    assert encoded == "a%2Bb%25c%40example.com"
    for client_id in (encoded, "a+b%c@example.com"):
        response = request_token(harness, CLIENT_CREDENTIALS, basic(client_id, secret))
        assert response.status_code == 200, (client_id, response.text)


def test_scope_narrows_the_token(harness: Harness) -> None:
    """A requested subset of the key's scopes is all the token carries."""
    harness.create_user("ops@example.com", scopes=("tme_admin", "tme_user"))
    _, secret = harness.create_key("ops@example.com")
    whole = request_token(harness, CLIENT_CREDENTIALS, basic("ops@example.com", secret)).json()
    assert set(whole["scope"].split(" ")) == {"tme_admin", "tme_user"}
    narrowed = request_token(
        harness, {**CLIENT_CREDENTIALS, "scope": "tme_user"}, basic("ops@example.com", secret)
    )
    assert narrowed.json()["scope"] == "tme_user"
    claims = harness.runtime.verifier.verify(narrowed.json()["access_token"])
    assert claims.scopes == ("tme_user",)
    # RFC 6749 section 3.1: a parameter without a value counts as omitted.
    empty = request_token(
        harness, {**CLIENT_CREDENTIALS, "scope": ""}, basic("ops@example.com", secret)
    )
    assert set(empty.json()["scope"].split(" ")) == {"tme_admin", "tme_user"}


def test_scope_beyond_the_key_is_invalid_scope(harness: Harness, alice: tuple[str, str]) -> None:
    """Asking for a scope the key lacks, unknown or malformed scope: invalid_scope, no token."""
    for scope in ("tme_admin", "tme_user tme_admin", "nonsense", 'tme_user"', "tme\\user"):
        response = request_token(
            harness, {**CLIENT_CREDENTIALS, "scope": scope}, basic(ALICE, alice[1])
        )
        refused(response, 400, "invalid_scope")
    account = harness.run(lambda runtime: runtime.database.accounts.by_username(ALICE))
    assert account is not None
    sessions = harness.run(
        lambda runtime: runtime.database.sessions.live_for_account(account.id, 0)
    )
    assert sessions == []


def test_refused_credentials_are_invalid_client_with_a_basic_challenge(
    harness: Harness, alice: tuple[str, str]
) -> None:
    """Wrong secret, password, unknown user, no or non-Basic authentication: 401 invalid_client."""
    harness.create_user("pw@example.com")
    wrong = alice[1][:-8] + ("A" if alice[1][-8] != "A" else "B") + alice[1][-7:]
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        (CLIENT_CREDENTIALS, basic(ALICE, wrong)),
        (CLIENT_CREDENTIALS, basic("pw@example.com", "correct horse battery staple 42")),
        (CLIENT_CREDENTIALS, basic("ghost@example.com", alice[1])),
        ({**CLIENT_CREDENTIALS, "client_id": ALICE, "client_secret": wrong}, {}),
        ({**CLIENT_CREDENTIALS, "client_id": ALICE}, {}),
        (CLIENT_CREDENTIALS, {}),
        (CLIENT_CREDENTIALS, {"Authorization": "Bearer abc"}),
        (CLIENT_CREDENTIALS, {"Authorization": "Basic !!!"}),
        (CLIENT_CREDENTIALS, {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}),
    ]
    for form, headers in attempts:
        response = request_token(harness, form, headers)
        refused(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == CHALLENGE


def test_malformed_requests_are_invalid_request(harness: Harness, alice: tuple[str, str]) -> None:
    """No grant_type, a repeated one, two auth methods, a secret in the URL: invalid_request."""
    auth = basic(ALICE, alice[1])
    refused(request_token(harness, "", auth), 400, "invalid_request")
    refused(request_token(harness, "scope=tme_user", auth), 400, "invalid_request")
    repeated = "grant_type=client_credentials&grant_type=client_credentials"
    refused(request_token(harness, repeated, auth), 400, "invalid_request")
    both = {**CLIENT_CREDENTIALS, "client_secret": alice[1]}
    refused(request_token(harness, both, auth), 400, "invalid_request")
    other = {**CLIENT_CREDENTIALS, "client_id": "bob@example.com"}
    refused(request_token(harness, other, auth), 400, "invalid_request")
    refused(
        request_token(harness, "grant_type=client_credentials%00", auth), 400, "invalid_request"
    )
    refused(request_token(harness, "grant_type=%ff", auth), 400, "invalid_request")
    in_url = harness.client.post(
        f"{TOKEN}?client_secret={alice[1]}",
        content=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded", **auth},
    )
    refused(in_url, 400, "invalid_request")
    json_body = harness.client.post(TOKEN, json=CLIENT_CREDENTIALS, headers=auth)
    refused(json_body, 415, "invalid_request")


def test_a_body_over_the_limit_is_413_invalid_request(
    harness: Harness, alice: tuple[str, str]
) -> None:
    """A form body over XPAY_AUTH_MAX_BODY_BYTES answers 413 invalid_request and closes."""
    limit = harness.runtime.settings.max_body_bytes
    padding = "x" * limit
    response = request_token(
        harness, f"grant_type=client_credentials&pad={padding}", basic(ALICE, alice[1])
    )
    refused(response, 413, "invalid_request")
    assert response.headers["connection"] == "close"


def test_other_grants_are_unsupported(harness: Harness, alice: tuple[str, str]) -> None:
    """password, authorization_code, refresh_token or anything else: unsupported_grant_type."""
    for grant in ("password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"):
        response = request_token(harness, {"grant_type": grant}, basic(ALICE, alice[1]))
        refused(response, 400, "unsupported_grant_type")


def test_a_key_with_no_scope_left_is_invalid_client(harness: Harness) -> None:
    """A key whose account no longer holds any of its scopes is refused like a wrong secret."""
    account_id = harness.create_user("lost@example.com")
    _, secret = harness.create_key("lost@example.com")
    harness.run(
        lambda runtime: runtime.database.accounts.set_scopes(
            account_id, ("tme_introspect",), int(time.time() * 1000)
        )
    )
    response = request_token(harness, CLIENT_CREDENTIALS, basic("lost@example.com", secret))
    refused(response, 401, "invalid_client")


def test_throttling_is_shared_with_authenticate(database_url: str) -> None:
    """Failures at /oauth/token and /client/authenticate count together; then 429 for both."""
    with running_app(make_settings(database_url, throttle_address_limit=3)) as harness:
        harness.create_user(ALICE)
        _, secret = harness.create_key(ALICE)
        wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        for _ in range(2):
            request_token(harness, CLIENT_CREDENTIALS, basic(ALICE, wrong))
        body = {"username": ALICE, "secretKey": wrong, "isAPI": True}
        assert "error" in harness.post("/client/authenticate", body).json()
        throttled = request_token(harness, CLIENT_CREDENTIALS, basic(ALICE, secret))
        refused(throttled, 429, "temporarily_unavailable")
        assert int(throttled.headers["retry-after"]) > 0
        assert harness.post("/client/authenticate", body).status_code == 429


def test_every_token_request_is_audited_with_its_grant(
    harness: Harness, alice: tuple[str, str]
) -> None:
    """Success, wrong secret, bad scope and bad grant each leave a login event naming the grant."""
    outcomes = {}
    attempts = {
        "ok": (CLIENT_CREDENTIALS, basic(ALICE, alice[1])),
        "refused": (CLIENT_CREDENTIALS, basic(ALICE, mistyped(alice[1]))),
        "invalid_scope": ({**CLIENT_CREDENTIALS, "scope": "tme_admin"}, basic(ALICE, alice[1])),
        "unsupported_grant": ({"grant_type": "password"}, basic(ALICE, alice[1])),
        "invalid_request": (
            {**CLIENT_CREDENTIALS, "client_id": "bob@example.com"},
            basic(ALICE, "x"),
        ),
    }
    for expected, (form, headers) in attempts.items():
        rid = str(uuid.uuid4())
        request_token(harness, form, {**headers, "uuid": rid})
        outcomes[expected] = rid
    for expected, rid in outcomes.items():
        query = audit.AuditQuery(request_uuid=rid)
        entries, total = harness.run(
            lambda runtime, q=query: audit.search(runtime.database.audit, q)  # type: ignore[misc]
        )
        assert total == 1, expected
        entry = entries[0]
        assert entry.outcome == expected
        assert entry.event == ("login.succeeded" if expected == "ok" else "login.failed")
        grant = "password" if expected == "unsupported_grant" else "client_credentials"
        assert entry.detail is not None
        assert entry.detail["grant"] == grant
        assert entry.detail["isAPI"] is True
        assert entry.username == ALICE, expected


def test_no_client_secret_reaches_the_audit_trail(harness: Harness, alice: tuple[str, str]) -> None:
    """A secret sent right, wrong, as the client id or as the grant type is never stored."""
    _, secret = alice
    attempts = [
        (CLIENT_CREDENTIALS, basic(ALICE, secret)),
        (CLIENT_CREDENTIALS, basic(ALICE, mistyped(secret))),
        (CLIENT_CREDENTIALS, basic(secret, secret)),
        ({"grant_type": secret}, basic(ALICE, secret)),
        ({"grant_type": secret, "client_id": secret, "client_secret": secret}, {}),
        ({**CLIENT_CREDENTIALS, "client_id": secret}, {}),
    ]
    for form, headers in attempts:
        request_token(harness, form, headers)
    url = harness.runtime.settings.database_url
    text = harness.run(lambda _runtime: database_text(url))
    # Twenty characters of the key's random part: the id before it is not secret.
    assert secret[22:42] not in text
    assert "[redacted]" in text


def test_the_configured_forwarding_header_names_the_client(settings: Settings) -> None:
    """Behind a trusted proxy writing ``Forwarded``, an internal key opens only for insiders."""
    configured = settings.model_copy(
        update={"trusted_proxies": ["10.0.0.0/8"], "proxy_header": "forwarded"}
    )
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False, client=("10.0.0.2", 50000)) as client:
        harness = Harness(client)
        harness.create_user(ALICE)
        _, secret = harness.create_key(ALICE, allowed_cidrs=["10.0.0.0/8"])
        auth = basic(ALICE, secret)
        outside = request_token(harness, CLIENT_CREDENTIALS, {**auth, "Forwarded": "for=192.0.2.7"})
        refused(outside, 401, "invalid_client")
        inside = request_token(harness, CLIENT_CREDENTIALS, {**auth, "Forwarded": "for=10.9.8.7"})
        assert inside.status_code == 200, inside.text
        malformed = request_token(harness, CLIENT_CREDENTIALS, {**auth, "Forwarded": "for=nowhere"})
        refused(malformed, 400, "invalid_request")


def test_get_is_not_allowed(harness: Harness) -> None:
    """The token endpoint takes POST only (RFC 6749 section 3.2)."""
    response = harness.client.get(TOKEN)
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


def test_metadata_describes_the_token_endpoint(harness: Harness, alice: tuple[str, str]) -> None:
    """RFC 8414: the issuer is the tokens' iss, and every URL points at this server."""
    response = harness.client.get(METADATA)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    base = "http://testserver"
    assert document == {
        "issuer": "xpay-auth",
        "token_endpoint": f"{base}/oauth/token",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": ["Bearer"],
        "scopes_supported": [
            "tme_admin",
            "tme_admin_read",
            "tme_introspect",
            "tme_user",
            "tme_verifier",
        ],
        "service_documentation": f"{base}/openapi.json",
    }
    token = request_token(harness, CLIENT_CREDENTIALS, basic(ALICE, alice[1])).json()
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["iss"] == document["issuer"]
    assert harness.client.get(document["jwks_uri"]).status_code == 200


def test_metadata_endpoints_live_under_a_url_issuer(settings: Settings) -> None:
    """With an https issuer, the endpoints are under it, whatever Host the request named."""
    issuer = "https://auth.example.com"
    with running_app(settings.model_copy(update={"issuer": issuer})) as harness:
        document = harness.client.get(METADATA, headers={"Host": "evil.example"}).json()
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/oauth/token"
    assert document["jwks_uri"] == f"{issuer}/.well-known/jwks.json"


def test_metadata_of_an_issuer_with_a_path(settings: Settings) -> None:
    """RFC 8414 section 3.1: the issuer's path follows the well-known path; others are 404."""
    issuer = "https://api.example.com/auth"
    with running_app(settings.model_copy(update={"issuer": issuer})) as harness:
        document = harness.client.get(f"{METADATA}/auth").json()
        assert document["issuer"] == issuer
        assert document["token_endpoint"] == f"{issuer}/oauth/token"
        assert harness.client.get(METADATA).json()["issuer"] == issuer
        assert harness.client.get(f"{METADATA}/elsewhere").status_code == 404
