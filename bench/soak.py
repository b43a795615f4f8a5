"""Soak run: a steady rate of logins and bearer checks for minutes, errors and memory over time.

Starts ``xpay-auth serve`` (2 workers by default) on a fresh SQLite file, or on the database
named by ``--database-url``, makes an account and an API key with the CLI, then sends
``--rate`` requests a second, paced on a fixed schedule whatever the answers take: 10 %
API-key logins (``/client/authenticate``, each committing a session and its audit event)
and 90 % bearer checks (``/client/session``). Every ``--every`` seconds it prints a line:
requests, errors (any answer but a 200 success, any transport failure), p50/p99 latency of
the interval, and each worker's resident memory. It ends with a summary and exits 1 if any
request failed or the workers' memory grew by more than ``--max-growth`` MiB between the
end of the first interval and the end of the run.

Usage: ``.venv/bin/python bench/soak.py [--minutes 5] [--rate 200] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

USERNAME = "soak@xpay.test"
LOGIN_SHARE = 10  # one request in ten is a login
HTTP_OK = 200
CONNECTIONS = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_rss_mib(pid: int) -> list[float]:
    """Resident memory (VmRSS) of each worker process below the supervisor ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(child) for child in children.read_text().split()] if children.exists() else []
    sizes = []
    for each in pids:
        status = Path(f"/proc/{each}/status")
        try:
            text = status.read_text()
        except OSError:
            continue
        # uvicorn's workers run the app; other children (a resource tracker) are tiny.
        match = re.search(r"VmRSS:\s+(\d+) kB", text)
        if match and int(match[1]) > 20 * 1024:
            sizes.append(int(match[1]) / 1024)
    return sorted(sizes)


@dataclass
class Interval:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def failed(self, kind: str) -> None:
        self.errors += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class Soak:
    def __init__(self, base: str, login_body: dict[str, object], token: str) -> None:
        self.base = base
        self.login_body = login_body
        self.token = token
        self.current = Interval()
        self.total = 0
        self.errors = 0
        self.kinds: dict[str, int] = {}

    async def one(self, client: httpx.AsyncClient, number: int, slots: asyncio.Semaphore) -> None:
        interval = self.current
        interval.sent += 1
        # Latency counts from the scheduled moment: a request that waits for a free
        # connection because the server fell behind is slow, not left out.
        started = time.perf_counter()
        async with slots:
            await self._send(client, number, interval, started)

    async def _send(
        self, client: httpx.AsyncClient, number: int, interval: Interval, started: float
    ) -> None:
        try:
            if number % LOGIN_SHARE == 0:
                response = await client.post("/client/authenticate", json=self.login_body)
            else:
                response = await client.post(
                    "/client/session", json={}, headers={"Authorization": f"Bearer {self.token}"}
                )
        except httpx.HTTPError as exc:
            interval.failed(type(exc).__name__)
            return
        interval.latencies.append(time.perf_counter() - started)
        if response.status_code != HTTP_OK or "success" not in response.json():
            interval.failed(f"status {response.status_code}")

    def close_interval(self) -> Interval:
        done, self.current = self.current, Interval()
        self.total += done.sent
        self.errors += done.errors
        for kind, count in done.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count
        return done


async def drive(soak: Soak, args: argparse.Namespace, pid: int) -> list[list[float]]:
    """Send ``args.rate`` requests a second on schedule; report every ``args.every`` s."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    # At most one request a connection is handed to httpx: its pool slows down sharply with
    # a long queue of its own, which would turn a pause of the server into a client stall.
    slots = asyncio.Semaphore(CONNECTIONS)
    memory: list[list[float]] = []
    async with httpx.AsyncClient(base_url=soak.base, timeout=10, limits=limits) as client:
        start = time.monotonic()
        end = start + args.minutes * 60
        next_report = start + args.every
        number = 0
        pending: set[asyncio.Task[None]] = set()
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = start + number / args.rate
            if due > now:
                await asyncio.sleep(due - now)
            task = asyncio.create_task(soak.one(client, number, slots))
            pending.add(task)
            task.add_done_callback(pending.discard)
            number += 1
            if time.monotonic() >= next_report:
                next_report += args.every
                memory.append(report(soak, start, pid))
        await asyncio.gather(*pending)
        memory.append(report(soak, start, pid))
    return memory


def report(soak: Soak, start: float, pid: int) -> list[float]:
    done = soak.close_interval()
    sizes = worker_rss_mib(pid)
    latencies = done.latencies
    print(
        f"{time.monotonic() - start:7.0f} s  {done.sent:6d} requests  {done.errors:4d} errors  "
        f"p50 {statistics.median(latencies) * 1000 if latencies else 0:6.1f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  "
        f"workers RSS MiB {' '.join(f'{size:.1f}' for size in sizes)}"
        + (f"  ({done.kinds})" if done.kinds else ""),
        flush=True,
    )
    return sizes


def cli(env: dict[str, str], workdir: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "xpay_auth", *args],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between lines")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--max-growth", type=float, default=10.0, help="MiB per worker")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("XPAY_AUTH_")},
            "XPAY_AUTH_DATABASE_URL": args.database_url or f"sqlite:///{folder}/soak.db",
            "XPAY_AUTH_SECRET_KEY": secrets.token_urlsafe(48),
            "XPAY_AUTH_LOG_LEVEL": "WARNING",
        }
        cli(env, workdir, "db", "upgrade")
        cli(env, workdir, "users", "create", USERNAME)
        secret = json.loads(cli(env, workdir, "keys", "create", USERNAME, "--json"))["secretKey"]
        port = free_port()
        log = (workdir / "server.log").open("wb")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xpay_auth",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            body: dict[str, object] = {"username": USERNAME, "secretKey": secret, "isAPI": True}
            deadline = time.monotonic() + 60
            while True:
                try:
                    login = httpx.post(f"{base}/client/authenticate", json=body, timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            token = login.json()["success"]["data"]["access_token"]
            print(
                f"soak: {args.minutes:g} min at {args.rate:g} req/s "
                f"({100 // LOGIN_SHARE} % logins, the rest bearer checks), "
                f"{args.workers} workers, {env['XPAY_AUTH_DATABASE_URL'].split(':', 1)[0]}",
                flush=True,
            )
            soak = Soak(base, body, token)
            memory = asyncio.run(drive(soak, args, server.pid))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()

    first, last = memory[0], memory[-1]
    peak = max((max(sizes) for sizes in memory if sizes), default=0.0)
    growth = max((b - a for a, b in zip(first, last, strict=False)), default=0.0)
    print(
        f"\nsummary: {soak.total} requests, {soak.errors} errors {soak.kinds or ''}; "
        f"workers RSS after the first interval {' '.join(f'{s:.1f}' for s in first)} MiB, "
        f"at the end {' '.join(f'{s:.1f}' for s in last)} MiB "
        f"(growth at most {growth:.1f} MiB), peak {peak:.1f} MiB"
    )
    if soak.errors or growth > args.max_growth:
        sys.exit(1)


if __name__ == "__main__":
    main()
