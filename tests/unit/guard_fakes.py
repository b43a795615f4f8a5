"""An in-process stand-in for xpay-auth's key set and revocation feed, for guard tests.

It serves through ``httpx.MockTransport`` and signs tokens with locally generated keys,
using the service's own :class:`TokenIssuer`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from xpay_auth.guard import Guard, GuardConfig
from xpay_auth.logs import now_ms
from xpay_auth.security import signing_keys
from xpay_auth.security.revocation import Revocation
from xpay_auth.security.signing_keys import SigningKey
from xpay_auth.security.tokens import DASHBOARD_CLIENT_ID, TokenIssuer

AUTH_URL = "http://auth.test"
ISSUER = "xpay-auth"
AUDIENCE = "xpay-api"


@dataclass
class FakeAuth:
    """Serves ``/.well-known/jwks.json`` and ``/auth/revocations``; counts the hits."""

    keys: list[SigningKey] = field(default_factory=lambda: [signing_keys.generate(now_ms())])
    revocations: list[Revocation] = field(default_factory=list)
    down: bool = False
    feed_body: Any = None  # when set, served instead of the real feed
    jwks_hits: int = 0
    feed_hits: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/.well-known/jwks.json":
            self.jwks_hits += 1
            return httpx.Response(200, json={"keys": [key.public_jwk() for key in self.keys]})
        if request.url.path == "/auth/revocations":
            self.feed_hits += 1
            if self.feed_body is not None:
                return httpx.Response(200, json=self.feed_body)
            data = {"revocations": [entry.to_json() for entry in self.revocations]}
            return httpx.Response(
                200, json={"success": {"message": "revocations", "data": data}, "uuid": "x"}
            )
        return httpx.Response(404, json={"error": {"message": "not found"}})

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
    return Guard(
        GuardConfig(auth_url=AUTH_URL, **config),
        transport=auth.transport,
        **({"clock": clock} if clock is not None else {}),
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"
