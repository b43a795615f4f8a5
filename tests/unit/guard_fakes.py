"""An in-process stand-in for xpay-auth's key set and revocation feed, for guard tests.

It serves through ``httpx.MockTransport`` and signs tokens with locally generated keys,
using the service's own :class:`TokenIssuer`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from xpay_auth.guard import Guard, GuardConfig
from xpay_auth.logs import now_ms
from xpay_auth.security import signing_keys
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.security.revocation import Revocation, RevocationEntry
from xpay_auth.security.signing_keys import SigningKey
from xpay_auth.security.tokens import TokenIssuer

AUTH_URL = "http://auth.test"
ISSUER = "xpay-auth"
AUDIENCE = "xpay-api"


GENERATION = "f" * 32
GUARD_USERNAME = "guard-test"
GUARD_SECRET = "xpsk_guard-test-secret"


@dataclass
class FakeAuth:
    """Serves the key set, the guard's login and the paged revocation feed; counts the hits.

    ``revocations`` is the feed's change log, oldest first: a cursor is an index into it.
    """

    keys: list[SigningKey] = field(default_factory=lambda: [signing_keys.generate(now_ms())])
    revocations: list[Revocation] = field(default_factory=list)
    down: bool = False
    feed_body: Any = None  # when set, served instead of the real feed
    jwks_hits: int = 0
    feed_hits: int = 0
    logins: int = 0
    tokens: set[str] = field(default_factory=set)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/.well-known/jwks.json":
            self.jwks_hits += 1
            return httpx.Response(200, json={"keys": [key.public_jwk() for key in self.keys]})
        if request.url.path == "/client/authenticate":
            return self._login(request)
        if request.url.path == "/auth/revocations":
            self.feed_hits += 1
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
                return httpx.Response(401, json={"error": {"message": "invalid token"}})
            if self.feed_body is not None:
                return httpx.Response(200, json=self.feed_body)
            return self._page(request)
        return httpx.Response(404, json={"error": {"message": "not found"}})

    def _login(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if (body["username"], body["secretKey"]) != (GUARD_USERNAME, GUARD_SECRET):
            error = {"message": "invalid credentials", "data": {"invalid": True}, "tag": "t"}
            return httpx.Response(200, json={"error": error, "uuid": "u"})
        self.logins += 1
        token = self.token(scopes=("tme_verifier",), subject="acc-guard")
        self.tokens.add(token)
        data = {
            "success": True,
            "expiresAt": (int(time.time()) + 600) * 1000,
            "user": {"username": GUARD_USERNAME, "scopes": ["tme_verifier"], "isAPI": True},
            "ticket": secrets.token_hex(16),
            "access_token": token,
        }
        return httpx.Response(
            200, json={"success": {"message": "Authenticated", "data": data}, "uuid": "u"}
        )

    def _page(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since")
        limit = int(request.url.params.get("limit", "300"))
        start = int(since.split(".")[1]) if since else 0
        chunk = self.revocations[start : start + limit]
        end = start + len(chunk)
        expires_at = (int(time.time()) + 3600) * 1000
        data = {
            "revocations": [RevocationEntry(entry, expires_at).to_json() for entry in chunk],
            "cursor": f"{GENERATION}.{end}",
            "more": end < len(self.revocations),
            "reset": since is None,
        }
        return httpx.Response(
            200, json={"success": {"message": "revocations", "data": data}, "uuid": "x"}
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def rotate(self) -> SigningKey:
        key = signing_keys.generate(now_ms())
        self.keys.append(key)
        return key

    def token(
        self,
        *,
        key: SigningKey | None = None,
        scopes: tuple[str, ...] = ("tme_user",),
        subject: str = "acc-1",
        ticket: str | None = None,
        client_id: str = DASHBOARD_CLIENT_ID,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        issued_at: int | None = None,
        lifetime: int = 600,
    ) -> str:
        signer = key or self.keys[0]
        now = int(time.time()) if issued_at is None else issued_at
        return TokenIssuer(lambda: signer, issuer, audience).issue(
            subject=subject,
            username="alice@example.com",
            scopes=scopes,
            ticket=ticket or secrets.token_hex(16),
            client_id=client_id,
            issued_at=now,
            expires_at=now + lifetime,
        )


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_guard(auth: FakeAuth, clock: FakeClock | None = None, **config: Any) -> Guard:
    config = {"username": GUARD_USERNAME, "secret_key": GUARD_SECRET, **config}
    return Guard(
        GuardConfig(auth_url=AUTH_URL, **config),
        transport=auth.transport,
        **({"clock": clock} if clock is not None else {}),
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"
