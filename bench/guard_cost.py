"""What the guard costs per request: local token verification plus the revocation check.

Builds a :class:`xpay_auth.guard.Guard` on locally generated keys, served to it through
``httpx.MockTransport`` (no network), with a revocation list of ``--revocations`` entries
(tickets, keys and account marks in equal parts), then times ``--count`` calls of
``Guard.authorize`` on valid tokens, one call at a time. Also times the two parts alone:
``TokenVerifier.verify`` (signature and claims) and ``RevocationSet.is_revoked``.

Usage: ``.venv/bin/python bench/guard_cost.py [--count 20000] [--revocations 3000]``.
Numbers vary with the machine and its load; compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from xpay_auth.guard import Guard, GuardConfig
from xpay_auth.logs import now_ms
from xpay_auth.security import signing_keys
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.security.tokens import TokenIssuer

AUTH_URL = "http://auth.bench"


def revocation_list(size: int) -> list[Revocation]:
    now = int(time.time())
    entries = []
    for index in range(size):
        kind = index % 3
        if kind == 0:
            entries.append(Revocation(RevocationKind.TICKET, secrets.token_hex(16)))
        elif kind == 1:
            entries.append(Revocation(RevocationKind.KEY, secrets.token_hex(8)))
        else:
            entries.append(Revocation(RevocationKind.ACCOUNT, f"acc-{index}", now - 60))
    return entries


def transport(key: signing_keys.SigningKey, revocations: list[Revocation]) -> httpx.MockTransport:
    """The key set, the guard's login and the feed (one page holding every entry)."""
    jwks = {"keys": [key.public_jwk()]}
    expires_at = (int(time.time()) + 3600) * 1000
    feed = {
        "success": {
            "message": "revocations",
            "data": {
                "revocations": [
                    RevocationEntry(entry, expires_at).to_json() for entry in revocations
                ],
                "cursor": "0" * 32 + ".1",
                "more": False,
                "reset": True,
            },
        },
        "uuid": "bench",
    }
    now = int(time.time())
    guard_token = TokenIssuer(lambda: key, "xpay-auth", "xpay-api").issue(
        subject="acc-guard",
        username="bench-guard",
        scopes=("tme_verifier",),
        ticket=secrets.token_hex(16),
        client_id=secrets.token_hex(8),
        issued_at=now,
        expires_at=now + 3600,
    )
    login = {
        "success": {
            "message": "Authenticated",
            "data": {"expiresAt": expires_at, "ticket": "0" * 32, "access_token": guard_token},
        },
        "uuid": "bench",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("jwks.json"):
            return httpx.Response(200, json=jwks)
        if request.url.path.endswith("/client/authenticate"):
            return httpx.Response(200, json=login)
        return httpx.Response(200, json=feed)

    return httpx.MockTransport(handler)


def summary(name: str, samples_ns: list[int]) -> str:
    micros = sorted(sample / 1000 for sample in samples_ns)
    p50 = micros[len(micros) // 2]
    p99 = micros[min(len(micros) - 1, int(len(micros) * 0.99))]
    return (
        f"{name:<34} n={len(micros):<6} mean {statistics.fmean(micros):8.1f} us"
        f"   p50 {p50:8.1f} us   p99 {p99:8.1f} us"
    )


FIRST_SIGHT = 2_000


async def timed(count: int, call: Callable[[], Awaitable[object]]) -> list[int]:
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - started)
    return samples


async def main(count: int, revocation_count: int) -> None:
    key = signing_keys.generate(now_ms())
    revocations = revocation_list(revocation_count)
    config = GuardConfig(
        auth_url=AUTH_URL,
        username="bench-guard",
        secret_key="xpsk_bench",  # noqa: S106  the mock transport accepts any
        poll_interval=3600,
        max_staleness=7200,
    )
    guard = Guard(config, transport=transport(key, revocations))
    await guard.start(background=False)
    issuer = TokenIssuer(lambda: key, config.issuer, config.audience)
    now = int(time.time())

    def issue(index: int) -> str:
        return issuer.issue(
            subject=f"acc-live-{index}",
            username=f"user{index}@example.com",
            scopes=("tme_user",),
            ticket=secrets.token_hex(16),
            client_id=secrets.token_hex(8),
            issued_at=now,
            expires_at=now + 3600,
        )

    tokens = [issue(index) for index in range(64)]
    # Tokens the guard has never seen: the signature and claims checks run in full.
    unseen = iter([f"Bearer {issue(index)}" for index in range(FIRST_SIGHT)])
    headers = [f"Bearer {token}" for token in tokens]
    verifier = guard._verifier  # noqa: SLF001  the part timed alone
    claims = [verifier.verify(token) for token in tokens]
    revoked = guard.feed.revocations

    state = {"i": 0}

    def next_index() -> int:
        state["i"] = (state["i"] + 1) % len(tokens)
        return state["i"]

    async def full() -> object:
        return await guard.authorize(headers[next_index()], ("tme_user",))

    async def first_sight() -> object:
        return await guard.authorize(next(unseen), ("tme_user",))

    async def verify_only() -> object:
        return verifier.verify(tokens[next_index()])

    async def revocation_only() -> object:
        return revoked.is_revoked(claims[next_index()])

    await timed(min(count, 1000), full)  # warm up
    gc.collect()
    print(f"revocation list: {guard.feed.entries} entries; tokens: ES256, {len(tokens[0])} bytes")
    print(summary("Guard.authorize, a token seen before", await timed(count, full)))
    print(summary("Guard.authorize, a new token", await timed(FIRST_SIGHT, first_sight)))
    for name, call in (
        ("TokenVerifier.verify alone", verify_only),
        ("RevocationSet.is_revoked alone", revocation_only),
    ):
        print(summary(name, await timed(count, call)))
    await guard.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--revocations", type=int, default=3_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.revocations))
