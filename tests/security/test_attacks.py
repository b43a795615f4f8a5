"""An attack catalogue walked over HTTP against a real server, on every database.

Forged tokens (RFC 8725 section 2 lists the attacks) are each answered 401 with the
``invalid_token`` challenge; injection strings in every field are business errors or empty
results. None of them answers 5xx or changes a row, and the server still serves its owners.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.conftest import PostgresDatabases, make_settings
from tests.e2e.conftest import Server, server_env
from tests.security.support import table_counts
from tests.support import PASSWORD, Harness
from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts, api_keys
from xpay_auth.storage.engine import create_engine

if TYPE_CHECKING:
    from pathlib import Path

    from xpay_auth.security.signing_keys import SigningKey

Signer = Callable[[bytes], bytes]
ISSUER = "xpay-auth"
AUDIENCE = "xpay-api"
VICTIM = "victim@example.com"
OPERATOR = "ops@example.com"
# Password attacks aim here: the per-account back-off may lock it, and nothing needs it after.
PASSWORD_TARGET = "pw-target@example.com"

INJECTIONS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "admin'--",
    '"; DROP TABLE accounts; --',
    "1; SELECT pg_sleep(5); --",
    "x' UNION SELECT private_key FROM signing_keys --",
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "${jndi:ldap://127.0.0.1:1/a}",
    "%s%n%x%d",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "%00",
    "\u202egnp.exe",
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], sign: Signer) -> str:
    """A JWS compact serialisation with exactly this header, signed by ``sign``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def es256(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def hs256(secret: bytes) -> Signer:
    def sign(data: bytes) -> bytes:
        mac = hmac.HMAC(secret, hashes.SHA256())
        mac.update(data)
        return mac.finalize()

    return sign


def unsigned(_data: bytes) -> bytes:
    return b""


@dataclass
class Target:
    server: Server
    client: httpx.Client
    url: str
    key: SigningKey
    private_key: ec.EllipticCurvePrivateKey
    victim_id: str
    victim_secret: str
    victim_dashboard: str
    operator_dashboard: str

    @property
    def sign(self) -> Signer:
        return es256(self.private_key)

    def header(self, **changes: Any) -> dict[str, Any]:
        header = {"alg": "ES256", "typ": "at+jwt", "kid": self.key.kid, **changes}
        return {name: value for name, value in header.items() if value is not None}

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.victim_id,
            "aud": AUDIENCE,
            "exp": now + 600,
            "iat": now,
            "jti": secrets.token_hex(16),
            "client_id": "xpay-dashboard",
            "scope": "tme_user",
            "sid": secrets.token_hex(16),
            "username": VICTIM,
            **changes,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def post(
        self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def counts(self) -> dict[str, int]:
        # Every answered login has committed its rows: the counts are final as they stand.
        async def count() -> dict[str, int]:
            engine = create_engine(self.url, pool_size=1)
            try:
                return await table_counts(engine)
            finally:
                await engine.dispose()

        return asyncio.run(count())


@dataclass(frozen=True)
class Prepared:
    key: SigningKey
    private_key: ec.EllipticCurvePrivateKey
    victim_secret: str


async def _prepare(url: str, secret: str) -> Prepared:
    """Accounts and a key made through the services, and the signing key the server will load."""
    async with open_runtime(make_settings(url, secret_key=secret)) as runtime:
        victim = await accounts.create_account(runtime.services.accounts, VICTIM, password=PASSWORD)
        await accounts.create_account(
            runtime.services.accounts, OPERATOR, scopes=("tme_admin", "tme_user"), password=PASSWORD
        )
        await accounts.create_account(runtime.services.accounts, PASSWORD_TARGET, password=PASSWORD)
        await accounts.create_account(
            runtime.services.accounts, "replay@example.com", password=PASSWORD
        )
        issued = await api_keys.create_key(runtime.services.keys, victim)
        key = runtime.keyring.current()
        assert key.private_key is not None
        return Prepared(key, key.private_key, issued.secret)


@pytest.fixture(
    scope="module",
    params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)],
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One real server per database for the whole catalogue, with accounts to attack."""
    workdir: Path = tmp_path_factory.mktemp(f"attacks-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'xpay-auth.db'}"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), workdir / "xpay-auth.db")
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = databases.new_database()
    # The address throttle would answer 429 long before the catalogue ends; these tests are
    # about what the checks behind it do with hostile input.
    env = server_env(url, XPAY_AUTH_THROTTLE_ADDRESS_LIMIT="100000")
    prepared = asyncio.run(_prepare(url, env["XPAY_AUTH_SECRET_KEY"]))
    server = Server(env=env, workdir=workdir)
    server.start()
    dashboard = server.login(VICTIM, PASSWORD, is_api=False)
    claims_of_victim = _claims(dashboard["access_token"])
    client = httpx.Client(base_url=server.base_url, timeout=30)
    yield Target(
        server=server,
        client=client,
        url=url,
        key=prepared.key,
        private_key=prepared.private_key,
        victim_id=claims_of_victim["sub"],
        victim_secret=prepared.victim_secret,
        victim_dashboard=dashboard["access_token"],
        operator_dashboard=server.login(OPERATOR, PASSWORD, is_api=False)["access_token"],
    )
    client.close()
    server.stop()
    log = server.log()
    assert '"status":500' not in log
    assert '"level":"error"' not in log


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "uuid"}
    assert body["error"]["data"] == {"invalid_token": True}


def assert_refused_everywhere(target: Target, token: str) -> None:
    """The token opens neither a client call, an admin call, nor a logout."""
    assert_invalid_token(target.post("/client/session", token=token))
    assert_invalid_token(target.post("/admin/users/search", {}, token=token))
    assert_invalid_token(target.post("/client/logout", token=token))
    verify = target.client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert verify.status_code == 401


@pytest.fixture
def unchanged(target: Target) -> Iterator[Target]:
    """The target, checked after the test: no row added or removed, and its owners get in."""
    before = target.counts()
    yield target
    assert target.counts() == before
    assert target.post("/client/session", token=target.victim_dashboard).status_code == 200
    assert (
        target.post("/admin/users/search", {}, token=target.operator_dashboard).status_code == 200
    )


def test_the_forging_kit_makes_tokens_the_server_accepts(target: Target) -> None:
    """A token built here with the real key and proper claims works: forgeries fail by a flaw."""
    token = compact(target.header(), target.claims(), target.sign)
    response = target.post("/client/session", token=token)
    assert response.status_code == 200, response.text
    assert response.json()["success"]["data"]["user"]["username"] == VICTIM


def test_alg_none_is_refused(unchanged: Target) -> None:
    """Unsigned tokens (alg none, in any spelling) are refused (RFC 8725 section 3.1)."""
    for alg in ["none", "None", "NONE", "nOnE", ""]:
        token = compact(
            unchanged.header(alg=alg), unchanged.claims(scope="tme_user tme_admin"), unsigned
        )
        assert_refused_everywhere(unchanged, token)


def test_hmac_signed_with_the_public_key_is_refused(unchanged: Target) -> None:
    """Key confusion: HMAC keyed with our public key (PEM, DER, JWK) is refused (RFC 8725 2.1)."""
    public = unchanged.private_key.public_key()
    forms = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(unchanged.key.public_jwk()).encode(),
        unchanged.client.get("/.well-known/jwks.json").content,
    ]
    for secret in forms:
        for alg in ["HS256", "HS384", "HS512"]:
            token = compact(unchanged.header(alg=alg), unchanged.claims(), hs256(secret))
            assert_refused_everywhere(unchanged, token)


def test_other_algorithms_are_refused(unchanged: Target) -> None:
    """Only ES256 is allowed: RS256, ES384, EdDSA and made-up names are refused (RFC 8725 3.1)."""
    for alg in ["RS256", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "es256", ["ES256"], 256]:
        token = compact(unchanged.header(alg=alg), unchanged.claims(), unchanged.sign)
        assert_refused_everywhere(unchanged, token)


def test_tampered_claims_are_refused(unchanged: Target) -> None:
    """A real token with its payload changed but its signature kept is refused."""
    header, payload, signature = unchanged.victim_dashboard.split(".")
    claims = _claims(unchanged.victim_dashboard)
    for change in [
        {"scope": "tme_user tme_admin"},
        {"sub": "acc_0000000000000000"},
        {"exp": claims["exp"] + 86400},
        {"username": OPERATOR},
        {"client_id": "xpay-dashboard-admin"},
    ]:
        forged_payload = b64(json.dumps({**claims, **change}).encode())
        assert_refused_everywhere(unchanged, f"{header}.{forged_payload}.{signature}")
    # Re-encoding the same claims differently also breaks the signature.
    padded = b64(json.dumps(claims, indent=1).encode())
    assert_refused_everywhere(unchanged, f"{header}.{padded}.{signature}")
    # So does a signature from another token.
    other = compact(unchanged.header(), unchanged.claims(), unchanged.sign).split(".")[2]
    assert_refused_everywhere(unchanged, f"{header}.{payload}.{other}")


def test_expired_and_not_yet_valid_tokens_are_refused(unchanged: Target) -> None:
    """exp past, nbf or iat ahead, beyond the 10 s leeway, or ill-typed: refused (RFC 7519 4.1)."""
    now = int(time.time())
    for claims in [
        unchanged.claims(iat=now - 7200, exp=now - 3600),
        unchanged.claims(iat=now - 120, exp=now - 60),
        unchanged.claims(nbf=now + 3600),
        unchanged.claims(nbf=now + 60),
        unchanged.claims(iat=now + 3600, exp=now + 7200),
        unchanged.claims(exp=None),
        unchanged.claims(iat=None),
        unchanged.claims(exp=str(now + 600)),
        unchanged.claims(exp=float(now + 600) + 0.5),
        unchanged.claims(nbf="soon"),
    ]:
        assert_refused_everywhere(unchanged, compact(unchanged.header(), claims, unchanged.sign))


def test_clock_skew_within_the_leeway_is_tolerated(target: Target) -> None:
    """A token expired 3 s ago or issued 3 s ahead still works: the leeway is small but real."""
    now = int(time.time())
    for claims in [target.claims(iat=now - 600, exp=now - 3), target.claims(iat=now + 3)]:
        response = target.post(
            "/client/session", token=compact(target.header(), claims, target.sign)
        )
        assert response.status_code == 200, response.text


def test_wrong_audience_or_issuer_is_refused(unchanged: Target) -> None:
    """A token for another audience or from another issuer is refused (RFC 8725 3.8, 3.9)."""
    for claims in [
        unchanged.claims(aud="wallets"),
        unchanged.claims(aud=["wallets", "bills"]),
        unchanged.claims(aud=None),
        unchanged.claims(aud=""),
        unchanged.claims(iss="https://evil.example"),
        unchanged.claims(iss="xpay-auth "),
        unchanged.claims(iss=None),
    ]:
        assert_refused_everywhere(unchanged, compact(unchanged.header(), claims, unchanged.sign))


def test_kid_injection_is_refused(unchanged: Target) -> None:
    """kid is looked up in our key set only: paths, SQL, unknown ids find nothing (RFC 8725)."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    kids: list[Any] = [
        "../../../../../../dev/null",
        "/etc/passwd",
        "' OR 1=1 --",
        f"{unchanged.key.kid}' OR '1'='1",
        "x' UNION SELECT public_jwk FROM signing_keys --",
        "http://127.0.0.1:1/key.pem",
        secrets.token_hex(8),
        "",
        None,
        42,
        ["a"],
        {"kid": unchanged.key.kid},
        "k" * 3000,
    ]
    for kid in kids:
        for sign in (es256(attacker), unchanged.sign):
            header = {"alg": "ES256", "typ": "at+jwt", "kid": kid}
            if kid is None:
                del header["kid"]
            assert_refused_everywhere(unchanged, compact(header, unchanged.claims(), sign))


def test_embedded_keys_and_key_urls_are_refused(unchanged: Target) -> None:
    """jwk, jku, x5u, x5c headers naming an attacker's key are refused either way (RFC 8725)."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    numbers = attacker.public_key().public_numbers()
    attacker_jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }
    headers: list[dict[str, Any]] = [
        {"jwk": attacker_jwk},
        {"jwk": attacker_jwk, "kid": None},
        {"jku": "http://127.0.0.1:1/jwks.json"},
        {"x5u": "http://127.0.0.1:1/cert.pem"},
        {"x5c": [b64(b"not a certificate")]},
        {"x5t": b64(b"thumb"), "x5c": ["MIIB"]},
    ]
    for extra in headers:
        for sign in (es256(attacker), unchanged.sign):
            token = compact(unchanged.header(**extra), unchanged.claims(scope="tme_admin"), sign)
            assert_refused_everywhere(unchanged, token)


def test_crit_headers_are_refused(unchanged: Target) -> None:
    """A crit header, even naming a known parameter, is refused (RFC 7515 section 4.1.11)."""
    for crit in [["exp"], ["b64"], ["x-unknown"], [], "exp"]:
        token = compact(unchanged.header(crit=crit, b64=False), unchanged.claims(), unchanged.sign)
        assert_refused_everywhere(unchanged, token)


def test_missing_or_wrong_typ_is_refused(unchanged: Target) -> None:
    """typ must say at+jwt (RFC 9068 2.1, RFC 8725 3.11): JWT, id tokens, none are refused."""
    for typ in [None, "JWT", "jwt", "JOSE", "id_token+jwt", "application/jwt", "at+jwt ", "", 1]:
        token = compact(unchanged.header(typ=typ), unchanged.claims(), unchanged.sign)
        assert_refused_everywhere(unchanged, token)


def test_malformed_bearer_values_are_refused(unchanged: Target) -> None:
    """Garbage where a token should be gets 401, never 400 or 500."""
    good = unchanged.victim_dashboard
    values = [
        "Bearer",
        f"Basic {good}",
        f"Token {good}",
        f"Bearer {good}.extra",
        f"Bearer {good.replace('.', '..', 1)}",
        f"Bearer {good} {good}",
        f"Bearer {good[:-1]}!",
        "Bearer " + "a" * 9000,
        "Bearer e30.e30.",
        "Bearer W10.W10.AA",
        "Bearer bnVsbA.bnVsbA.AA",
        *(f"Bearer {injection}" for injection in INJECTIONS if injection.isascii()),
    ]
    for value in values:
        for path in ["/client/session", "/client/logout", "/admin/users/search"]:
            response = unchanged.post(path, {}, headers={"Authorization": value})
            assert response.status_code == 401, (value, response.text)
            assert response.json()["error"]["data"] == {"invalid_token": True}


def test_replay_after_logout_is_refused(target: Target) -> None:
    """After logout the session's token gets 401 on every call; the owner's other sessions live."""
    first = target.server.login("replay@example.com", PASSWORD, is_api=False)["access_token"]
    second = target.server.login("replay@example.com", PASSWORD, is_api=False)["access_token"]
    assert target.post("/client/logout", token=first).status_code == 200
    before = target.counts()
    assert_refused_everywhere(target, first)
    assert_invalid_token(target.post("/client/keys/search", {}, token=first))
    assert target.post("/client/session", token=second).status_code == 200
    # A token of the logged-out ticket minted again with the real key is refused too.
    claims = _claims(first)
    assert_refused_everywhere(
        target, compact(target.header(), {**claims, "jti": secrets.token_hex(16)}, target.sign)
    )
    assert target.counts() == before


def test_injection_strings_in_every_authenticate_field(unchanged: Target) -> None:
    """SQL, template and format strings in username, secretKey, isAPI: plain wrong credentials."""
    for injection in INJECTIONS:
        bodies = [
            {"username": injection, "secretKey": unchanged.victim_secret, "isAPI": True},
            {"username": injection, "secretKey": PASSWORD, "isAPI": False},
            {
                "username": f"{VICTIM}{injection}",
                "secretKey": unchanged.victim_secret,
                "isAPI": True,
            },
            {"username": VICTIM, "secretKey": injection, "isAPI": True},
            {"username": VICTIM, "secretKey": f"xpsk_{injection}", "isAPI": True},
            {"username": PASSWORD_TARGET, "secretKey": injection, "isAPI": False},
        ]
        for body in bodies:
            headers = {"uuid": injection} if injection.isascii() else {}
            response = unchanged.post("/client/authenticate", body, headers=headers)
            assert response.status_code == 200, response.text
            result = response.json()
            assert result["uuid"] != injection
            # The fixed refusal: nothing was evaluated, nothing told apart.
            assert result["error"]["message"] == "invalid credentials", body
            assert result["error"]["data"] == {"invalid": True}
        response = unchanged.post(
            "/client/authenticate",
            {"username": injection, "secretKey": injection, "isAPI": injection},
        )
        assert response.json()["error"]["data"]["field"] == "isAPI"


def test_injection_strings_as_extra_fields_are_ignored(target: Target) -> None:
    """Injection strings as unknown field names and values change nothing about a valid login."""
    for injection in INJECTIONS:
        body = {
            "username": VICTIM,
            "secretKey": target.victim_secret,
            "isAPI": True,
            injection: injection,
            "scope": injection,
        }
        data = target.post("/client/authenticate", body).json()["success"]["data"]
        assert data["user"] == {"username": VICTIM, "scopes": ["tme_user"], "isAPI": True}


def test_injection_strings_in_the_fields_of_bearer_calls(unchanged: Target) -> None:
    """Every field of the account, key and admin calls takes injection strings as plain text."""
    user, operator = unchanged.victim_dashboard, unchanged.operator_dashboard
    for injection in INJECTIONS:
        calls: list[tuple[str, dict[str, Any], str]] = [
            ("/client/session", {"ticket": injection}, user),
            ("/client/keys/search", {"sort": injection}, user),
            ("/client/keys/revoke", {"id": injection}, user),
            ("/client/keys/rotate", {"id": injection, "graceSeconds": 0}, user),
            ("/client/sessions/search", {"page": 1, "x": injection}, user),
            ("/client/sessions/revoke", {"ticket": injection}, user),
            (
                "/client/password/change",
                {"currentPassword": injection, "newPassword": injection},
                user,
            ),
            ("/admin/users/search", {"query": injection}, operator),
            ("/admin/users/update", {"username": injection, "disabled": True}, operator),
            ("/admin/users/update", {"username": VICTIM, "scopes": [injection]}, operator),
            ("/admin/sessions/revoke", {"ticket": injection}, operator),
            ("/admin/sessions/revoke", {"username": injection}, operator),
            ("/admin/keys/revoke", {"id": injection}, operator),
            ("/admin/audit/search", {"username": injection, "event": injection}, operator),
            ("/admin/audit/search", {"keyId": injection, "requestUuid": injection}, operator),
        ]
        for path, body, token in calls:
            response = unchanged.post(path, body, token=token)
            assert response.status_code == 200, (path, injection, response.text)
            result = response.json()
            if "success" in result:
                data = result["success"]["data"]
                # Searches answer nothing for a string no username or event contains.
                assert (
                    path == "/client/session"
                    or data["total"] == 0
                    or path == "/client/sessions/search"
                ), (path, data)
    for injection in INJECTIONS:
        response = unchanged.client.post(
            "/oauth/introspect",
            data={"token": injection},
            headers={"Authorization": f"Bearer {unchanged.operator_dashboard}"},
        )
        assert response.status_code == 200
        assert response.json() == {"active": False}


def test_signing_keys_table_is_never_leaked(target: Target) -> None:
    """Nothing the attacks received holds a private key: the key set has public coordinates only."""
    jwks = target.client.get("/.well-known/jwks.json").json()
    for jwk in jwks["keys"]:
        assert set(jwk) <= {"kty", "crv", "x", "y", "kid", "alg", "use"}
    private = target.private_key.private_numbers().private_value.to_bytes(32, "big")
    assert b64(private) not in target.server.log()


def test_a_retired_and_unpublished_key_signs_nothing(harness: Harness) -> None:
    """Once a retired key leaves the key set its tokens are refused; while published they work."""
    harness.create_user("quinn@example.com")
    _, secret = harness.create_key("quinn@example.com")
    published = harness.token_for_key("quinn@example.com", secret)
    harness.run(lambda runtime: runtime.keyring.rotate(3_600_000))
    assert harness.post("/client/session", token=published).status_code == 200
    unpublished = harness.token_for_key("quinn@example.com", secret)
    harness.run(lambda runtime: runtime.keyring.rotate(0))
    # Wait out the reload-on-unknown-kid interval so the refusal is not a rate limit's doing.
    time.sleep(1.1)
    assert_invalid_token(harness.post("/client/session", token=unpublished))
    # The first key keeps the publication window it was retired with.
    assert harness.post("/client/session", token=published).status_code == 200
    assert (
        harness.post(
            "/client/session", token=harness.token_for_key("quinn@example.com", secret)
        ).status_code
        == 200
    )
