"""Standard OAuth 2.0 client libraries against a real server, calling the wallets example.

Authlib (sync and async httpx clients) and requests-oauthlib (``BackendApplicationClient``)
run their own client credentials flow against ``/oauth/token``, found through the RFC 8414
metadata, and call the guarded wallets service with the token they got, unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError, InvalidScopeError
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import Server, ServerFactory
from tests.e2e.guarded import Wallets
from tests.plain_http import HTTP
from tests.support import mistyped

CLIENT = "integration@example.com"


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    """The tests here share one server (``shared_server``), client and wallets service."""
    return shared_server


@pytest.fixture(scope="module")
def wallets(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallets]:
    service = Wallets(auth=server, workdir=tmp_path_factory.mktemp("wallets"))
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def client_secret(server: Server) -> str:
    """An account whose API key is the OAuth client secret."""
    server.create_user(CLIENT)
    return str(server.create_key(CLIENT)["secretKey"])


def token_endpoint(server: Server) -> str:
    response = HTTP.get(f"{server.base_url}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    metadata: dict[str, Any] = response.json()
    assert "client_credentials" in metadata["grant_types_supported"]
    endpoint: str = metadata["token_endpoint"]
    assert endpoint == f"{server.base_url}/oauth/token"
    return endpoint


def check_token(token: dict[str, Any]) -> None:
    assert token["token_type"].lower() == "bearer"
    # oauthlib hands the scope over as a list, Authlib as the string the server sent.
    assert token["scope"] in ("tme_user", ["tme_user"])
    assert 3500 < token["expires_in"] <= 3600
    assert token["expires_at"] > time.time() + 3500


def test_authlib_client_credentials_calls_the_wallets(
    server: Server, wallets: Wallets, client_secret: str
) -> None:
    """Authlib's OAuth2Client (client_secret_basic) gets a token the wallets service accepts."""
    with OAuth2Client(CLIENT, client_secret, scope="tme_user") as client:
        token = client.fetch_token(token_endpoint(server), grant_type="client_credentials")
        check_token(token)
        balance = client.post(f"{wallets.base_url}/wallets/balance", timeout=10)
    assert balance.status_code == 200, balance.text
    assert balance.json()["success"]["data"]["username"] == CLIENT

    with (
        OAuth2Client(CLIENT, mistyped(client_secret)) as wrong,
        pytest.raises(OAuthError) as refused,
    ):
        wrong.fetch_token(token_endpoint(server), grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def test_authlib_async_client_posts_its_secret(
    server: Server, wallets: Wallets, client_secret: str
) -> None:
    """Authlib's AsyncOAuth2Client with client_secret_post gets a working token too."""
    endpoint = token_endpoint(server)

    async def flow() -> httpx.Response:
        async with AsyncOAuth2Client(
            CLIENT, client_secret, token_endpoint_auth_method="client_secret_post"
        ) as client:
            token = await client.fetch_token(endpoint, grant_type="client_credentials")
            check_token(token)
            response: httpx.Response = await client.post(
                f"{wallets.base_url}/wallets/transfer",
                json={"to": "bob@example.com", "amount": 250},
                timeout=10,
            )
            return response

    moved = asyncio.run(flow())
    assert moved.status_code == 200, moved.text
    assert moved.json()["success"]["data"]["balance"] == 9_750


def test_requests_oauthlib_backend_client_calls_the_wallets(
    server: Server, wallets: Wallets, client_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests-oauthlib's BackendApplicationClient fetches a token by Basic and by body."""
    # oauthlib refuses plain http unless told; the test server listens on loopback only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    endpoint = token_endpoint(server)
    session = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT))
    token = session.fetch_token(token_url=endpoint, client_id=CLIENT, client_secret=client_secret)
    check_token(token)
    balance = session.post(f"{wallets.base_url}/wallets/balance", timeout=10)
    assert balance.status_code == 200, balance.text
    assert balance.json()["success"]["data"]["username"] == CLIENT

    # The scope to send goes on the oauthlib client; the session's only checks the answer.
    posted = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT, scope=["tme_user"]))
    token = posted.fetch_token(
        token_url=endpoint, client_secret=client_secret, include_client_id=True
    )
    check_token(token)
    assert posted.post(f"{wallets.base_url}/wallets/balance", timeout=10).status_code == 200

    with pytest.raises(InvalidClientError):
        session.fetch_token(token_url=endpoint, client_id=CLIENT, client_secret="xpsk_wrong")
    narrow = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT, scope=["tme_admin"]))
    with pytest.raises(InvalidScopeError):
        narrow.fetch_token(token_url=endpoint, client_id=CLIENT, client_secret=client_secret)


def test_a_throttled_client_is_told_to_come_back_later(server_factory: ServerFactory) -> None:
    """Past the address limit, Authlib sees temporarily_unavailable and a 429 with Retry-After."""
    server = server_factory(XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="2")
    server.create_user(CLIENT)
    secret = str(server.create_key(CLIENT)["secretKey"])
    endpoint = token_endpoint(server)
    for _ in range(2):
        with OAuth2Client(CLIENT, "xpsk_wrong") as wrong, pytest.raises(OAuthError) as refused:
            wrong.fetch_token(endpoint, grant_type="client_credentials")
        assert refused.value.error == "invalid_client"
    with OAuth2Client(CLIENT, secret) as right, pytest.raises(OAuthError) as throttled:
        right.fetch_token(endpoint, grant_type="client_credentials")
    assert throttled.value.error == "temporarily_unavailable"
    response = HTTP.post(
        endpoint,
        data={"grant_type": "client_credentials"},
        auth=(CLIENT, secret),
        timeout=10,
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
