"""The revocation feed with many revocations in force: cost of a poll, size, and a guard's view.

Seeds ``--revocations`` entries in force (tickets, keys and account marks, 8:1:1) straight
into a migrated database, makes a verifier account and key (scope ``tme_verifier``), then
serves the app in this process and measures, through ``httpx.ASGITransport`` (no network,
so the time is the server's work plus httpx's own small overhead):

- the snapshot a starting guard reads, page by page (pages, bytes, time);
- a steady poll with the cursor and nothing new (``--polls`` of them: p50, p99, bytes);
- a poll after 100 new revocations;
- ``GET /healthz`` answered while snapshot pages are built (the worst wait);
- a real ``Guard`` on the same app: time until ready, entries held, ready after a poll.

Usage: ``.venv/bin/python bench/revocation_feed.py [--revocations 200000] [--polls 200]
[--database-url postgresql://...]``. Numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from xpay_auth.app import create_app
from xpay_auth.client import XPayAuth
from xpay_auth.guard import Guard, GuardConfig
from xpay_auth.logs import now_ms
from xpay_auth.runtime import Runtime, open_runtime
from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.services import accounts, api_keys
from xpay_auth.settings import Argon2Profile, Settings
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.migrate import upgrade
from xpay_auth.storage.rows import revocation_feed, revocations

BASE_URL = "http://feed.bench"
VERIFIER = "bench-guard"
POLL_TIME_BOUND_MS = 5.0
POLL_SIZE_BOUND = 50 * 1024


def seed_rows(count: int, now: int) -> list[dict[str, Any]]:
    rows = []
    expires_at = now + 3_600_000
    for seq in range(1, count + 1):
        kind = seq % 10
        if kind == 0:
            row = {"kind": "account", "subject": f"acc_{seq:016x}", "not_after_s": now // 1000}
        elif kind == 1:
            row = {"kind": "key", "subject": secrets.token_hex(8)}
        else:
            row = {"kind": "ticket", "subject": secrets.token_hex(16)}
        # Every row names every column: an executemany takes its columns from the first row.
        rows.append(
            {
                "not_after_s": None,
                "created_at_ms": now,
                "expires_at_ms": expires_at,
                "seq": seq,
                **row,
            }
        )
    return rows


async def prepare(settings: Settings, count: int) -> str:
    """Migrate, seed ``count`` revocations in force, and make the verifier's key."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        now = now_ms()
        rows = seed_rows(count, now)
        async with engine.begin() as conn:
            for start in range(0, len(rows), 20_000):
                await conn.execute(insert(revocations), rows[start : start + 20_000])
            await conn.execute(update(revocation_feed).values(last_seq=count))
    finally:
        await engine.dispose()

    async with open_runtime(settings) as runtime:
        account = await accounts.create_account(
            runtime.services.accounts, VERIFIER, scopes=("tme_verifier",)
        )
        issued = await api_keys.create_key(runtime.services.keys, account, scopes=("tme_verifier",))
        return issued.secret


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[Any, httpx.ASGITransport]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, httpx.ASGITransport(app=app)


async def page(
    client: httpx.AsyncClient, **params: str
) -> tuple[dict[str, Any], int, float, float]:
    """One feed request: its data, bytes, wall-clock and CPU milliseconds.

    CPU time is this process's (the event loop and the database driver's thread), so a
    machine shared with other work inflates the wall clock but not this.
    """
    started, cpu = time.perf_counter(), time.process_time()
    response = await client.get("/auth/revocations", params=params)
    elapsed = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    response.raise_for_status()
    data: dict[str, Any] = response.json()["success"]["data"]
    return data, len(response.content), elapsed, cpu_ms


async def snapshot(client: httpx.AsyncClient) -> tuple[str, int, int, float, int]:
    """Read the whole snapshot: cursor, pages, bytes, milliseconds, entries."""
    cursor: str | None = None
    pages = size = entries = 0
    started = time.perf_counter()
    while True:
        params = {"limit": "2000", **({"since": cursor} if cursor else {})}
        data, length, _, _ = await page(client, **params)
        pages, size, entries = pages + 1, size + length, entries + len(data["revocations"])
        cursor = data["cursor"]
        if not data["more"]:
            return cursor, pages, size, (time.perf_counter() - started) * 1000, entries


async def healthz_worst_wait(client: httpx.AsyncClient, stop: asyncio.Event) -> float:
    worst = 0.0
    while not stop.is_set():
        started = time.perf_counter()
        (await client.get("/healthz")).raise_for_status()
        worst = max(worst, (time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.001)
    return worst


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def revoke_more(runtime: Runtime, count: int) -> None:
    now = now_ms()
    for _ in range(count):
        entry = RevocationEntry(
            Revocation(RevocationKind.TICKET, secrets.token_hex(16)), now + 3_600_000
        )
        await runtime.database.revocations.record(entry, now_ms=now)


async def main(count: int, polls: int, database_url: str | None) -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=database_url or f"sqlite:///{Path(folder) / 'feed.db'}",
            secret_key=secrets.token_urlsafe(48),  # type: ignore[arg-type]
            argon2_profile=Argon2Profile.TESTING,
        )
        started = time.perf_counter()
        secret = await prepare(settings, count)
        print(f"seeded {count:,} revocations in force in {time.perf_counter() - started:.1f} s")
        async with served(settings) as (app, transport):
            auth = XPayAuth(BASE_URL, VERIFIER, secret)
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, auth=auth
            ) as client:
                await page(client, limit="1")  # log in once, warm the caches
                stop = asyncio.Event()
                probe = asyncio.create_task(healthz_worst_wait(client, stop))
                cursor, pages, size, took, entries = await snapshot(client)
                stop.set()
                worst_healthz = await probe
                print(
                    f"snapshot: {entries:,} entries in {pages} pages of up to 2000, "
                    f"{size / 1e6:.2f} MB, {took:.0f} ms ({took / pages:.1f} ms a page); "
                    f"/healthz answered meanwhile within {worst_healthz:.1f} ms at worst"
                )

                times, cpus, sizes = [], [], []
                for _ in range(polls):
                    data, length, elapsed, cpu_ms = await page(client, since=cursor)
                    assert not data["revocations"]
                    times.append(elapsed)
                    cpus.append(cpu_ms)
                    sizes.append(length)
                p50, cpu_p50 = statistics.median(times), statistics.median(cpus)
                print(
                    f"steady poll ({polls}x, nothing new): wall p50 {p50:.2f} ms, "
                    f"p99 {percentile(times, 0.99):.2f} ms; CPU p50 {cpu_p50:.2f} ms, "
                    f"p99 {percentile(cpus, 0.99):.2f} ms; {max(sizes)} bytes"
                )
                await revoke_more(app.state.runtime, 100)
                data, length, elapsed, cpu_ms = await page(client, since=cursor)
                print(
                    f"poll after 100 new revocations: {len(data['revocations'])} entries, "
                    f"{length / 1024:.1f} KB, wall {elapsed:.2f} ms, CPU {cpu_ms:.2f} ms"
                )
                sizes.append(length)

            config = GuardConfig(auth_url=BASE_URL, username=VERIFIER, secret_key=secret)
            guard = Guard(config, transport=transport)
            started = time.perf_counter()
            await guard.start(background=False)
            ready_after = time.perf_counter() - started
            polled = await guard.poll_revocations()
            print(
                f"guard: ready {guard.ready} after {ready_after:.2f} s with "
                f"{guard.feed.entries:,} entries ({guard.feed.pages} pages); next poll ok "
                f"{polled}, ready {guard.ready}"
            )
            await guard.stop()

    bounds_met = cpu_p50 < POLL_TIME_BOUND_MS and max(sizes) < POLL_SIZE_BOUND and guard.ready
    print(
        f"bounds (poll CPU p50 < {POLL_TIME_BOUND_MS:g} ms, every poll < "
        f"{POLL_SIZE_BOUND // 1024} KB, guard ready): " + ("met" if bounds_met else "NOT met")
    )
    return 0 if bounds_met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revocations", type=int, default=200_000)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.revocations, args.polls, args.database_url)))
