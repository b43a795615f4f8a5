"""Load benchmark: requests per second, latency percentiles and peak memory, side by side.

Scenarios, each served by uvicorn with the same number of workers on this machine:

- ``baseline``: the bare Starlette app of ``baseline_app.py`` (the yardstick);
- ``sqlite``: xpay-auth on a SQLite file;
- ``postgres``: xpay-auth on PostgreSQL (skipped, with a note, when none answers);

each driven by ``wrk`` (Debian package) posting an API-key authenticate call, plus a
``verify`` row: ``POST /auth/verify``-style bearer checks (``/client/session``) on SQLite.

Usage: ``.venv/bin/python bench/authenticate.py [--duration 10] [--connections 64]``.
Numbers vary with the machine and its load; compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
USERNAME = "bench@xpay.test"
POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Result:
    name: str
    rps: float
    p50: str
    p90: str
    p99: str
    non_2xx: int
    errors: int
    peak_rss_mib: float
    note: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_peak_rss_mib(pid: int) -> float:
    """Sum of VmHWM (peak resident memory) over the process and its children."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    total_kib = 0
    for each in pids:
        status = Path(f"/proc/{each}/status")
        if status.exists():
            match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
            total_kib += int(match[1]) if match else 0
    return total_kib / 1024


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={}, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError(f"{url} did not come up")


def run_wrk(url: str, body: str, token: str, args: argparse.Namespace) -> dict[str, str]:
    env = {**os.environ, "BENCH_BODY": body, "BENCH_TOKEN": token}
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(HERE / "post.lua"),
        url,
    ]
    subprocess.run(
        [*command[:3], "-d2s", *command[4:]], env=env, capture_output=True, check=True
    )  # warm-up
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    found: dict[str, str] = {"non_2xx": "0", "errors": "0"}
    for label, pattern in {
        "rps": r"Requests/sec:\s+([\d.]+)",
        "p50": r"\s50%\s+(\S+)",
        "p90": r"\s90%\s+(\S+)",
        "p99": r"\s99%\s+(\S+)",
        "non_2xx": r"Non-2xx or 3xx responses:\s+(\d+)",
    }.items():
        match = re.search(pattern, output)
        if match:
            found[label] = match[1]
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        found["errors"] = str(sum(int(part) for part in errors.groups()))
    return found


def measure(  # noqa: PLR0917  one row of the table, its facts in order
    name: str,
    process: subprocess.Popen[bytes],
    url: str,
    body: str,
    token: str,
    args: argparse.Namespace,
    note: str = "",
) -> Result:
    found = run_wrk(url, body, token, args)
    return Result(
        name,
        float(found.get("rps", 0)),
        found.get("p50", "-"),
        found.get("p90", "-"),
        found.get("p99", "-"),
        int(found["non_2xx"]),
        int(found["errors"]),
        tree_peak_rss_mib(process.pid),
        note,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def baseline(args: argparse.Namespace, secret: str) -> Result:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_USERNAME": USERNAME,
        "BENCH_SECRET": secret,
        "PYTHONPATH": str(HERE),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "baseline_app:app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/client/authenticate"
    try:
        wait_ready(url)
        body = json.dumps({"username": USERNAME, "secretKey": secret, "isAPI": True})
        assert "success" in httpx.post(url, content=body).text
        return measure("baseline (bare Starlette)", process, url, body, "", args)
    finally:
        stop(process)


def xpay(args: argparse.Namespace, name: str, database_url: str, workdir: Path) -> list[Result]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("XPAY_AUTH_")},
        "XPAY_AUTH_DATABASE_URL": database_url,
        "XPAY_AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "XPAY_AUTH_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "xpay_auth"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run(
        [*cli, "users", "create", USERNAME], env=env, cwd=workdir, check=True, capture_output=True
    )
    key = json.loads(
        subprocess.run(
            [*cli, "keys", "create", USERNAME, "--json"],
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    port = free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/client/authenticate")
        body = json.dumps({"username": USERNAME, "secretKey": key["secretKey"], "isAPI": True})
        login = httpx.post(
            f"{base}/client/authenticate",
            content=body,
            headers={"Content-Type": "application/json"},
        ).json()
        token = login["success"]["data"]["access_token"]
        results = [
            measure(
                f"xpay-auth authenticate, {name}",
                process,
                f"{base}/client/authenticate",
                body,
                "",
                args,
            )
        ]
        results.append(
            measure(
                f"xpay-auth bearer check, {name}",
                process,
                f"{base}/client/session",
                "{}",
                token,
                args,
            )
        )
        return results
    finally:
        stop(process)
        # Keys minted under load are the benchmark's; the sessions were all written on stop.


async def _postgres_database() -> str | None:
    name = f"xpay_bench_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def _drop_postgres(url: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    secret = secrets.token_urlsafe(32)
    results = [baseline(args, secret)]
    with tempfile.TemporaryDirectory() as folder:
        results += xpay(args, "SQLite", f"sqlite:///{folder}/bench.db", Path(folder))
        postgres = asyncio.run(_postgres_database())
        if postgres is None:
            print("PostgreSQL not reachable: its rows are left out", file=sys.stderr)
        else:
            try:
                results += xpay(args, "PostgreSQL", postgres, Path(folder))
            finally:
                asyncio.run(_drop_postgres(postgres))

    yardstick = results[0].rps or 1
    print(
        f"\n{args.workers} uvicorn workers, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{os.cpu_count()} cores shared by load generator and server\n"
    )
    header = (
        f"{'scenario':42} {'req/s':>9} {'x base':>7} {'p50':>9} {'p90':>9} {'p99':>9} "
        f"{'non-2xx':>8} {'sock err':>8} {'peak RSS MiB':>13}"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row.name:42} {row.rps:9.0f} {row.rps / yardstick:7.2f} "
            f"{row.p50:>9} {row.p90:>9} {row.p99:>9} "
            f"{row.non_2xx:8d} {row.errors:8d} {row.peak_rss_mib:13.1f}"
        )


if __name__ == "__main__":
    main()
