"""The seed's documented clients, run unchanged but for host and credentials, against a real
server; the tokens they get are verified by independent JWT libraries through the JWKS."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError, InvalidClaimError
from joserfc.jwk import KeySet

from tests.conftest import unavailable
from tests.e2e.helpers import TICKET, Direct
from tests.plain_http import HTTP

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Server

SEED_HOST = "https://apis.xpay.stream"

# The seed's curl call (shared/seed/authentication-api.txt), character for character.
SEED_CURL = """curl 'https://apis.xpay.stream/client/authenticate' \\
-H 'Content-Type: application/json' \\
--data-raw '{"username":"<your_email>","secretKey":"<your_key>", "isAPI": "true" }'
"""

# The seed's Node.js snippet, character for character.
SEED_NODE = """// npm i cross-fetch
const fetch = require("cross-fetch");
const API_URL = "https://apis.xpay.stream/client/authenticate";
const method = "POST";
const headers = { "content-type": "application/json" };
const body = JSON.stringify({
username: "your_email",
secretKey: "your_secret",
isAPI: true
});
fetch(API_URL, { headers, body, method })
.then(async res => await res.json())
.then(result => {
if(result.error) {
console.log("Authentication Error", result);
}
if(result.success) {
// use next on access_token
// to authentication all API Calls
// with Header: Authorization Bearer access_token
const access_token = result.success.data.access_token;
console.log("Authentication Success", result);
}
})
.catch((err) => {
console.error(err);
});
"""

# Verifies a token with the `jose` npm package through the published key set.
JOSE_VERIFY = """import { createRemoteJWKSet, jwtVerify } from "jose";
const [jwksUrl, token, issuer, audience] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUrl));
const { payload, protectedHeader } = await jwtVerify(token, keys, {
  issuer, audience, algorithms: ["ES256"], typ: "at+jwt",
});
console.log(JSON.stringify({ payload, protectedHeader }));
"""


def _curl(server: Server, username: str, secret: str) -> dict[str, Any]:
    command = (
        SEED_CURL.replace(SEED_HOST, server.base_url)
        .replace("<your_email>", username)
        .replace("<your_key>", secret)
    )
    result = subprocess.run(
        ["bash", "-c", command.replace("curl ", "curl --silent --show-error ", 1)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def verify_independently(server: Server, data: dict[str, Any]) -> dict[str, Any]:
    """Check the token with joserfc through the JWKS; returns its claims."""
    jwks = HTTP.get(f"{server.base_url}/.well-known/jwks.json", timeout=10).json()
    key_set = KeySet.import_key_set(jwks)
    token = jose_jwt.decode(data["access_token"], key_set, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    assert token.header["typ"] == "at+jwt"
    assert token.header["kid"] in {key["kid"] for key in jwks["keys"]}
    registry = jose_jwt.JWTClaimsRegistry(
        leeway=10,
        iss={"essential": True, "value": "xpay-auth"},
        aud={"essential": True, "value": "xpay-api"},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
        sid={"essential": True, "value": data["ticket"]},
    )
    registry.validate(token.claims)
    assert token.claims["exp"] * 1000 == data["expiresAt"]
    assert token.claims["scope"].split() == data["user"]["scopes"]
    claims: dict[str, Any] = token.claims
    return claims


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with cross-fetch and jose installed from the npm registry, once per session."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are needed for the seed's Node.js client")
    folder = tmp_path_factory.mktemp("node-client")
    try:
        subprocess.run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(folder),
                "cross-fetch",
                "jose",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        unavailable(f"npm install cross-fetch jose failed: {exc}")
    return folder


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    """The tests here share one server (``shared_server``) and the seed's account."""
    return shared_server


@pytest.fixture(scope="module")
def seed_account(server: Server) -> tuple[str, str]:
    """The seed's ``email@test.com`` with an API key: the key's id and its secret."""
    [(key_id, secret)] = Direct(server).create_user("email@test.com", keys=1)
    return key_id, secret


def test_seed_curl_command_gets_a_verifiable_token(
    server: Server, seed_account: tuple[str, str]
) -> None:
    """The seed's curl command, host and credentials changed, gets a token joserfc verifies."""
    key_id, secret = seed_account
    body = _curl(server, "email@test.com", secret)
    assert set(body) == {"success", "uuid"}
    assert body["success"]["message"] == "Authenticated"
    data = body["success"]["data"]
    assert data["user"] == {"username": "email@test.com", "scopes": ["tme_user"], "isAPI": True}
    assert TICKET.fullmatch(data["ticket"])
    claims = verify_independently(server, data)
    assert claims["client_id"] == key_id
    assert claims["username"] == "email@test.com"

    typo = secret[:-1] + ("1" if secret.endswith("0") else "0")
    refused = _curl(server, "email@test.com", typo)
    assert refused["error"]["message"] == "invalid credentials"
    assert refused["error"]["data"] == {"invalid": True}


def test_independent_verifier_refuses_tampering(
    server: Server, seed_account: tuple[str, str]
) -> None:
    """joserfc refuses a token with a changed payload or an unexpected audience."""
    _, secret = seed_account
    data = server.login("email@test.com", secret)
    jwks = HTTP.get(f"{server.base_url}/.well-known/jwks.json", timeout=10).json()
    key_set = KeySet.import_key_set(jwks)
    header, payload, signature = data["access_token"].split(".")
    other = server.login("email@test.com", secret)["access_token"].split(".")[1]
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(f"{header}.{other}.{signature}", key_set, algorithms=["ES256"])
    token = jose_jwt.decode(data["access_token"], key_set, algorithms=["ES256"])
    registry = jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": "another-api"})
    with pytest.raises(InvalidClaimError):
        registry.validate(token.claims)
    assert payload != other


@pytest.mark.node
def test_seed_node_snippet_gets_a_verifiable_token(
    server: Server, seed_account: tuple[str, str], node_modules: Path
) -> None:
    """The seed's cross-fetch snippet, URL and credentials changed, logs in; Node's jose agrees."""
    _, secret = seed_account
    url = f"{server.base_url}/client/authenticate"
    script = node_modules / "client.js"
    script.write_text(
        SEED_NODE.replace(f"{SEED_HOST}/client/authenticate", url)
        .replace('"your_email"', '"email@test.com"')
        .replace('"your_secret"', json.dumps(secret))
    )
    result = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.startswith("Authentication Success"), result.stdout + result.stderr
    token_match = re.search(r"access_token: '([A-Za-z0-9_\-.]+)'", result.stdout)
    ticket_match = re.search(r"ticket: '([0-9a-f]{32})'", result.stdout)
    expires_match = re.search(r"expiresAt: (\d+)", result.stdout)
    assert token_match, result.stdout
    assert ticket_match, result.stdout
    assert expires_match, result.stdout
    token = token_match[1]
    data: dict[str, Any] = {
        "access_token": token,
        "ticket": ticket_match[1],
        "expiresAt": int(expires_match[1]),
        "user": {"scopes": ["tme_user"]},
    }
    claims = verify_independently(server, data)

    verifier = node_modules / "verify.mjs"
    verifier.write_text(JOSE_VERIFY)
    checked = subprocess.run(
        [
            "node",
            str(verifier),
            f"{server.base_url}/.well-known/jwks.json",
            token,
            "xpay-auth",
            "xpay-api",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verdict = json.loads(checked.stdout)
    assert verdict["protectedHeader"]["alg"] == "ES256"
    assert verdict["protectedHeader"]["typ"] == "at+jwt"
    assert verdict["payload"] == claims

    script.write_text(
        SEED_NODE.replace(f"{SEED_HOST}/client/authenticate", url)
        .replace('"your_email"', '"email@test.com"')
        .replace('"your_secret"', '"wrong"')
    )
    refused = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert refused.stdout.startswith("Authentication Error"), refused.stdout
    assert "invalid credentials" in refused.stdout
