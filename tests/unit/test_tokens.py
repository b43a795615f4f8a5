"""Access tokens: issued in the shape of RFC 9068, verified by the book (RFC 8725)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from xpay_auth.security import signing_keys
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.security.tokens import (
    DEFAULT_LEEWAY,
    InvalidToken,
    TokenIssuer,
    TokenVerifier,
    UnknownKey,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from xpay_auth.security.signing_keys import SigningKey

ISSUER = "xpay-auth"
AUDIENCE = "xpay-api"
TICKET = "0123456789abcdef0123456789abcdef"


class Keys:
    def __init__(self) -> None:
        self.current = signing_keys.generate(0)
        self.known: dict[str, SigningKey] = {self.current.kid: self.current}

    @property
    def private(self) -> ec.EllipticCurvePrivateKey:
        assert self.current.private_key is not None
        return self.current.private_key

    def issuer(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> TokenIssuer:
        return TokenIssuer(lambda: self.current, issuer, audience)

    def verifier(self) -> TokenVerifier:
        def lookup(kid: str) -> Any:
            key = self.known.get(kid)
            return key.public_key if key else None

        return TokenVerifier(lookup, ISSUER, AUDIENCE)


@pytest.fixture
def keys() -> Keys:
    return Keys()


def _issue(issuer: TokenIssuer, **overrides: Any) -> str:
    now = int(time.time())
    values: dict[str, Any] = {
        "subject": "acc_0011223344556677",
        "username": "alice@example.com",
        "scopes": ("tme_user",),
        "ticket": TICKET,
        "client_id": "00112233aabbccdd",
        "issued_at": now,
        "expires_at": now + 3600,
    }
    values.update(overrides)
    return issuer.issue(**values)


def _private(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    assert key.private_key is not None
    return key.private_key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "acc_0011223344556677",
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "jti": "ab" * 16,
        "client_id": "00112233aabbccdd",
        "scope": "tme_user",
        "sid": TICKET,
        "username": "alice@example.com",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(keys: Keys, claims: dict[str, Any], **headers: Any) -> str:
    """An ES256 token under the real signing key with any header and claims."""
    header = {"typ": "at+jwt", "kid": keys.current.kid, **headers}
    return jwt.encode(claims, keys.private, algorithm="ES256", headers=header)


def test_issued_token_verifies_to_its_claims(keys: Keys) -> None:
    """A token issued with the current key verifies to the claims it was issued with."""
    now = int(time.time())
    token = _issue(
        keys.issuer(), issued_at=now, expires_at=now + 600, scopes=("tme_user", "tme_admin")
    )
    claims = keys.verifier().verify(token)
    assert claims.subject == "acc_0011223344556677"
    assert claims.username == "alice@example.com"
    assert claims.scopes == ("tme_user", "tme_admin")
    assert claims.ticket == TICKET
    assert claims.key_id == "00112233aabbccdd"
    assert claims.is_api
    assert (claims.issued_at, claims.expires_at) == (now, now + 600)


def test_issued_token_has_the_rfc9068_shape(keys: Keys) -> None:
    """Header typ at+jwt, alg ES256 and kid; claims iss sub aud exp iat jti client_id scope sid."""
    token = _issue(keys.issuer())
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": keys.current.kid}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
        "sid",
        "username",
    }
    assert payload["scope"] == "tme_user"
    assert payload["sid"] == TICKET
    assert len(payload["jti"]) == 32
    assert (
        payload["jti"]
        != jwt.decode(_issue(keys.issuer()), options={"verify_signature": False})["jti"]
    )


def test_issued_token_is_the_compact_jws_pyjwt_would_write(keys: Keys) -> None:
    """Same header bytes, a 64-byte R||S signature any ES256 verifier accepts, non-ASCII kept."""
    token = _issue(keys.issuer(), username="zoë@exämple.com")
    head, body, signature = token.split(".")
    reference = _sign(keys, _claims()).split(".")[0]
    assert head == reference
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    claims = jwt.decode(token, keys.current.public_key, algorithms=["ES256"], audience=AUDIENCE)
    assert claims["username"] == "zoë@exämple.com"
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) == claims
    # Each verification of a new signature: a flipped signature byte is refused.
    forged = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        keys.verifier().verify(f"{head}.{body}.{forged}")


def test_dashboard_tokens_carry_no_key_id(keys: Keys) -> None:
    """A password login's token names the dashboard client and no API key."""
    claims = keys.verifier().verify(_issue(keys.issuer(), client_id=DASHBOARD_CLIENT_ID))
    assert claims.key_id is None
    assert not claims.is_api


def test_wrong_audience_or_issuer_is_refused(keys: Keys) -> None:
    """A token for another audience or from another issuer is invalid."""
    with pytest.raises(InvalidToken):
        keys.verifier().verify(_issue(keys.issuer(audience="other-api")))
    with pytest.raises(InvalidToken):
        keys.verifier().verify(_issue(keys.issuer(issuer="someone-else")))


def test_expiry_is_checked_with_a_small_leeway(keys: Keys) -> None:
    """A token just past exp still passes within the leeway; beyond it, it is refused."""
    now = int(time.time())
    verifier = keys.verifier()
    within = _issue(keys.issuer(), issued_at=now - 100, expires_at=now - DEFAULT_LEEWAY // 2)
    assert verifier.verify(within).ticket == TICKET
    beyond = _issue(keys.issuer(), issued_at=now - 100, expires_at=now - DEFAULT_LEEWAY - 2)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(beyond)


def test_issued_in_the_future_is_refused(keys: Keys) -> None:
    """A token whose iat lies beyond the leeway in the future is refused."""
    now = int(time.time())
    token = _issue(keys.issuer(), issued_at=now + DEFAULT_LEEWAY + 60, expires_at=now + 3600)
    with pytest.raises(InvalidToken, match="future"):
        keys.verifier().verify(token)


def test_not_before_in_the_future_is_refused(keys: Keys) -> None:
    """A token with nbf beyond the leeway is refused."""
    token = _sign(keys, _claims(nbf=int(time.time()) + 600))
    with pytest.raises(InvalidToken):
        keys.verifier().verify(token)


def test_typ_must_be_at_jwt(keys: Keys) -> None:
    """A token without typ, or with typ JWT, is refused (RFC 9068 section 4)."""
    no_typ = _sign(keys, _claims(), typ=None)
    assert "typ" not in jwt.get_unverified_header(no_typ)
    with pytest.raises(InvalidToken, match="typ"):
        keys.verifier().verify(no_typ)
    with pytest.raises(InvalidToken, match="typ"):
        keys.verifier().verify(_sign(keys, _claims(), typ="JWT"))
    assert keys.verifier().verify(_sign(keys, _claims(), typ="application/at+jwt"))


def test_alg_none_is_refused(keys: Keys) -> None:
    """An unsigned token (alg none) is refused."""
    header = {"alg": "none", "typ": "at+jwt", "kid": keys.current.kid}
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}."
    with pytest.raises(InvalidToken, match="not allowed"):
        keys.verifier().verify(token)


def test_hs256_with_the_public_key_as_secret_is_refused(keys: Keys) -> None:
    """The key-confusion attack (HMAC keyed with the public key's PEM or JWK) is refused."""
    pem = keys.current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(keys.current.public_jwk()).encode()):
        header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.current.kid}
        signing_input = (
            f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}"
        )
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidToken):
            keys.verifier().verify(f"{signing_input}.{_b64(signature)}")


def test_unknown_kid_is_refused(keys: Keys) -> None:
    """A token signed by a key this verifier does not know raises UnknownKey."""
    stranger = signing_keys.generate(0)
    token = jwt.encode(
        _claims(),
        _private(stranger),
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": stranger.kid},
    )
    with pytest.raises(UnknownKey):
        keys.verifier().verify(token)
    assert issubclass(UnknownKey, InvalidToken)


def test_signature_by_another_key_under_our_kid_is_refused(keys: Keys) -> None:
    """A token signed by a foreign key that claims our kid fails the signature check."""
    stranger = signing_keys.generate(0)
    token = jwt.encode(
        _claims(),
        _private(stranger),
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": keys.current.kid},
    )
    with pytest.raises(InvalidToken):
        keys.verifier().verify(token)


def test_missing_kid_is_refused(keys: Keys) -> None:
    """A token without a kid is refused."""
    token = jwt.encode(_claims(), keys.private, algorithm="ES256", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidToken, match="kid"):
        keys.verifier().verify(token)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jwk", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIB"]),
        ("crit", ["exp"]),
    ],
)
def test_forbidden_headers_are_refused(keys: Keys, name: str, value: Any) -> None:
    """Headers that name their own key or demand unknown processing are refused."""
    with pytest.raises(InvalidToken):
        keys.verifier().verify(_sign(keys, _claims(), **{name: value}))


@pytest.mark.parametrize(
    "missing", ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "sid"]
)
def test_every_required_claim_must_be_present(keys: Keys, missing: str) -> None:
    """A token lacking any required claim is refused."""
    with pytest.raises(InvalidToken):
        keys.verifier().verify(_sign(keys, _claims(**{missing: None})))


@pytest.mark.parametrize(
    "overrides",
    [
        {"sid": "not-a-ticket"},
        {"sid": TICKET.upper()},
        {"scope": ["tme_user"]},
        {"sub": 42},
        {"iat": float(int(time.time()))},
        {"exp": str(int(time.time()) + 60)},
    ],
)
def test_claims_of_the_wrong_type_are_refused(keys: Keys, overrides: dict[str, Any]) -> None:
    """Claims of the wrong type or shape are refused."""
    with pytest.raises(InvalidToken):
        keys.verifier().verify(_sign(keys, _claims(**overrides)))


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "a.b.c", "x" * 9000 + ".a.b"])
def test_malformed_tokens_are_refused(keys: Keys, token: str) -> None:
    """Strings that are not compact JWS tokens are refused."""
    with pytest.raises(InvalidToken):
        keys.verifier().verify(token)


def test_tampered_payload_is_refused(keys: Keys) -> None:
    """Changing the payload of a signed token breaks its signature."""
    header, _, signature = _issue(keys.issuer()).split(".")
    forged = _b64(json.dumps(_claims(scope="tme_user tme_admin")).encode())
    with pytest.raises(InvalidToken):
        keys.verifier().verify(f"{header}.{forged}.{signature}")


def test_a_header_checked_once_still_guards_every_token(keys: Keys) -> None:
    """Header checks are kept per header, but each token's own header is still the one read.

    A refused header is refused on every presentation, and a token that reuses a good header
    with a corrupted header segment (one character past the alphabet) is refused by the full
    parse.
    """
    bad = _sign(keys, _claims(), typ="JWT")
    for _ in range(3):
        with pytest.raises(InvalidToken, match="typ"):
            keys.verifier().verify(bad)
    good = _issue(keys.issuer())
    assert keys.verifier().verify(good)
    header, payload, signature = good.split(".")
    with pytest.raises(InvalidToken):
        keys.verifier().verify(f"{header}!.{payload}.{signature}")
    other_key = f"{_b64(json.dumps({'alg': 'ES256', 'typ': 'at+jwt', 'kid': 'x'}).encode())}"
    with pytest.raises(UnknownKey):
        keys.verifier().verify(f"{other_key}.{payload}.{signature}")
