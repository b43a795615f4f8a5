"""Load benchmark: every row of one run in one table, beside the targets it is held to.

Servers, each with the same number of workers on this machine, started in turn:

- ``baseline``: the bare Starlette app of ``baseline_app.py`` under uvicorn (the yardstick;
  every ratio is to it, at the same number of connections);
- ``sqlite`` / ``postgres``: ``xpay-auth serve`` (uvicorn) on a SQLite file / on PostgreSQL
  (left out, with a note, when none answers);
- ``granian``: the same app under granian instead of uvicorn, on SQLite and PostgreSQL.

Rows: an API-key authenticate and a bearer check (``POST /client/session``) at each number of
connections; on each database a mixed row (90 % bearer checks, 10 % API-key logins); on
SQLite a password login, compared with the argon2 bound (argon2id verifications per second
of the default profile, one process per worker, measured in the same run).

Each row: requests per second and its ratio, latency p50/p99/p99.9, errors (socket errors,
non-2xx answers, 200 answers carrying an error envelope), the server's CPU per request (user
+ system time of the master and its workers over the run, divided by the requests), and the
largest peak resident memory of one worker during the row.

Usage: ``.venv/bin/python bench/authenticate.py [--duration 10] [--connections 8,64]
[--only sqlite,postgres,granian,password,mixed] [--quick]``. ``--quick`` (a smoke run, under
a minute) is 1 s a row, without warm-up, at the largest connection count only. Numbers vary
with the machine and its load; compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from argon2_bound import verifications_per_second
from loadstats import ServerTree, WrkRun, parse_wrk

from xpay_auth.runtime import open_runtime
from xpay_auth.services import accounts, api_keys
from xpay_auth.settings import Settings
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.migrate import upgrade

HERE = Path(__file__).resolve().parent
USERNAME = "bench@xpay.test"
PERSON = "person@xpay.test"
POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCENARIOS = ("sqlite", "postgres", "granian", "password", "mixed")
MIX_LOGIN_PERCENT = 10
# Password logins queue behind argon2 (tens of ms of CPU each): a few connections already keep
# every core busy. More than 5 at once for one account from one address would meet the
# throttle's back-off (5 free attempts in flight per account and address) and be refused.
PASSWORD_CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class Target:
    """A target of the service, as a ratio to the row's reference (the baseline by default)."""

    ratio: float
    p99_ms: float | None = None
    zero_errors: bool = False

    def describe(self, reference: str) -> str:
        parts = [f">={self.ratio:.2f}x {reference}"]
        if self.p99_ms is not None:
            parts.append(f"p99<{self.p99_ms:.0f}ms")
        if self.zero_errors:
            parts.append("0 err")
        return ", ".join(parts)

    def met(self, ratio: float, run: WrkRun) -> bool:
        return (
            ratio >= self.ratio
            and (self.p99_ms is None or run.latency_ms[2] < self.p99_ms)
            and (not self.zero_errors or run.errors == 0)
        )


# The targets, at 64 connections with 2 workers; peak memory is held under 150 MiB a worker.
TARGETS = {
    ("authenticate", "SQLite"): Target(0.6, p99_ms=20, zero_errors=True),
    ("authenticate", "PostgreSQL"): Target(0.45, p99_ms=20, zero_errors=True),
    ("bearer check", "SQLite"): Target(0.7),
    ("bearer check", "PostgreSQL"): Target(0.5),
    ("password login", "SQLite"): Target(0.9),
}
TARGET_CONNECTIONS = 64
MEMORY_TARGET_MIB = 150


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    connections: int
    run: WrkRun
    cpu_us: float  # server CPU per request
    peak_rss_mib: float  # of one worker
    ratio: float = 0.0
    target: str = ""
    reference: float | None = None  # what the ratio is to, when not the baseline


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    body: str
    token: str = ""


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    tree: ServerTree


@dataclass(frozen=True, slots=True)
class Credentials:
    key_body: str
    password_body: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server of {url} exited with {process.returncode}")
        try:
            httpx.post(url, json={}, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[Server]:
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/client/authenticate", process)
        yield Server(base, ServerTree(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_wrk(  # noqa: PLR0917  one run, its facts in order
    args: argparse.Namespace,
    server: Server,
    request: Request,
    connections: int,
    mix: Request | None,
    profile: str | None,
) -> tuple[WrkRun, float]:
    """Warm up, then one measured wrk run: its figures and the server's CPU seconds."""
    env = {
        **os.environ,
        "BENCH_PATH": request.path,
        "BENCH_BODY": request.body,
        "BENCH_TOKEN": request.token,
        "BENCH_MIX_PERCENT": str(MIX_LOGIN_PERCENT if mix else 0),
        "BENCH_MIX_PATH": mix.path if mix else "",
        "BENCH_MIX_BODY": mix.body if mix else "",
    }
    threads = min(args.threads, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", "--timeout", "10s"]
    command += ["-s", str(HERE / "requests.lua"), server.base]
    if args.warmup:
        subprocess.run([*command, f"-d{args.warmup}s"], env=env, capture_output=True, check=True)
    server.tree.reset_peaks()
    cpu_before = server.tree.cpu_seconds()
    with profiling(args, server, profile):
        output = subprocess.run(
            [*command, f"-d{args.duration}s"], env=env, capture_output=True, text=True, check=True
        ).stdout
    return parse_wrk(output), server.tree.cpu_seconds() - cpu_before


@contextlib.contextmanager
def profiling(args: argparse.Namespace, server: Server, name: str | None) -> Iterator[None]:
    """With ``--profile DIR``, py-spy samples the server's workers during the run.

    It writes ``DIR/<name>.svg`` (a flame graph) and ``DIR/<name>.txt`` (collapsed stacks,
    one line per stack with its sample count). Its sampling takes CPU from the machine, so
    the row's figures are not comparable with those of a run without it.
    """
    if args.profile is None or name is None:
        yield
        return
    args.profile.mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "py-spy"), "record"),
                *("--nonblocking", "--subprocesses", "--rate", "97"),
                *("--pid", str(server.tree.pid), "--duration", str(args.duration)),
                *("--format", fmt, "--output", str(args.profile / f"{name}.{suffix}")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt"))
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.wait(timeout=args.duration + 60)


def slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def measure(  # noqa: PLR0917  one row of the table, its facts in order
    args: argparse.Namespace,
    name: str,
    server: Server,
    request: Request,
    connections: int,
    mix: Request | None = None,
) -> Row:
    profile = f"{slug(name)}-c{connections}" if connections == TARGET_CONNECTIONS else None
    run, cpu = run_wrk(args, server, request, connections, mix, profile)
    print(f"  {name}, c{connections}: {run.rps:.0f} req/s", file=sys.stderr)
    cpu_us = cpu / run.requests * 1e6 if run.requests else 0.0
    return Row(name, connections, run, cpu_us, server.tree.peak_rss_mib())


def baseline(args: argparse.Namespace, secret: str) -> list[Row]:
    port = free_port()
    env = {**os.environ, "BENCH_USERNAME": USERNAME, "BENCH_SECRET": secret}
    env["PYTHONPATH"] = str(HERE)
    command = [sys.executable, "-m", "uvicorn", "baseline_app:app", "--port", str(port)]
    command += ["--workers", str(args.workers), "--log-level", "warning", "--no-access-log"]
    body = json.dumps({"username": USERNAME, "secretKey": secret, "isAPI": True})
    request = Request("/client/authenticate", body)
    with serving(command, env, HERE, port) as server:
        assert "success" in httpx.post(server.base + request.path, content=body).text
        return [
            measure(args, "baseline (bare Starlette)", server, request, connections)
            for connections in args.connections
        ]


def xpay_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPAY_AUTH_")}
    return env | {
        "XPAY_AUTH_DATABASE_URL": database_url,
        "XPAY_AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "XPAY_AUTH_LOG_LEVEL": "WARNING",
    }


async def _prepare(database_url: str, secret_key: str) -> Credentials:
    """Migrate, and create an account with an API key and one with a password."""
    settings = Settings(database_url=database_url, secret_key=secret_key)  # type: ignore[arg-type]
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    password = secrets.token_urlsafe(24)
    async with open_runtime(settings) as runtime:
        account = await accounts.create_account(runtime.services.accounts, USERNAME)
        issued = await api_keys.create_key(runtime.services.keys, account, name="bench")
        await accounts.create_account(runtime.services.accounts, PERSON, password=password)
    return Credentials(
        key_body=json.dumps({"username": USERNAME, "secretKey": issued.secret, "isAPI": True}),
        password_body=json.dumps({"username": PERSON, "secretKey": password, "isAPI": False}),
    )


def serve_command(server: str, port: int, workers: int) -> list[str]:
    if server == "uvicorn":
        return [
            *(sys.executable, "-m", "xpay_auth", "serve"),
            *("--port", str(port), "--workers", str(workers)),
        ]
    # The app of `xpay-auth serve`, served by granian; the database is migrated already.
    return [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--loop", "uvloop", "--no-ws", "--http", "1", "--log-level", "warning"),
        "xpay_auth.app:app_from_environment",
    ]


def xpay_rows(  # noqa: PLR0917  one server's rows, its facts in order
    args: argparse.Namespace,
    database: str,
    env: dict[str, str],
    workdir: Path,
    credentials: Credentials,
    server_name: str,
) -> list[Row]:
    port = free_port()
    env = env | {"PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-")}
    login = Request("/client/authenticate", credentials.key_body)
    suffix = f"{database}" if server_name == "uvicorn" else f"{database}, granian"
    with serving(serve_command(server_name, port, args.workers), env, workdir, port) as server:
        answer = httpx.post(server.base + login.path, content=login.body).json()
        bearer = Request("/client/session", "{}", answer["success"]["data"]["access_token"])
        # granian rows compare the servers: the connection count of the targets only.
        counts = args.connections if server_name == "uvicorn" else args.connections[-1:]
        rows = [
            measure(args, f"authenticate, {suffix}", server, login, connections)
            for connections in counts
        ]
        rows += [
            measure(args, f"bearer check, {suffix}", server, bearer, connections)
            for connections in counts
        ]
        if server_name == "uvicorn" and "mixed" in args.only:
            rows.append(
                measure(args, f"mixed 90/10, {suffix}", server, bearer, counts[-1], mix=login)
            )
        if server_name == "uvicorn" and database == "SQLite" and "password" in args.only:
            person = Request("/client/authenticate", credentials.password_body)
            assert "success" in httpx.post(server.base + person.path, content=person.body).text
            connections = min(PASSWORD_CONNECTIONS, counts[0])
            # Measured just before the row, with the server idle: the machine's load moves.
            bound = verifications_per_second(args.workers, max(args.duration, 2))
            row = measure(args, f"password login, {suffix}", server, person, connections)
            rows.append(dataclasses.replace(row, reference=bound))
        return rows


def database_rows(args: argparse.Namespace, database: str, url: str, workdir: Path) -> list[Row]:
    env = xpay_env(url)
    credentials = asyncio.run(_prepare(url, env["XPAY_AUTH_SECRET_KEY"]))
    rows = xpay_rows(args, database, env, workdir, credentials, "uvicorn")
    if "granian" in args.only:
        rows += xpay_rows(args, database, env, workdir, credentials, "granian")
    return rows


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


def judged(rows: list[Row]) -> list[Row]:
    """Each row with its ratio (to the baseline, or to the argon2 bound) and target verdict."""
    base = {row.connections: row.run.rps for row in rows if row.name.startswith("baseline")}
    out: list[Row] = []
    for row in rows:
        kind, _, database = row.name.partition(", ")
        password = kind == "password login"
        reference = row.reference or base.get(row.connections)
        ratio = row.run.rps / reference if reference else 0.0
        target = TARGETS.get((kind, database))
        verdict = ""
        if target is not None and (password or row.connections == TARGET_CONNECTIONS):
            name = "bound" if password else "base"
            met = target.met(ratio, row.run)
            verdict = f"{target.describe(name)}: {'met' if met else 'MISSED'}"
            memory_met = row.peak_rss_mib < MEMORY_TARGET_MIB
            verdict += f"; RSS<{MEMORY_TARGET_MIB}: {'met' if memory_met else 'MISSED'}"
        out.append(dataclasses.replace(row, ratio=ratio, target=verdict))
    return out


def table(rows: list[Row]) -> str:
    header = (
        f"{'scenario':34} {'conn':>4} {'req/s':>7} {'ratio':>6} {'p50':>7} {'p99':>7} "
        f"{'p99.9':>7} {'sock':>5} {'non2xx':>6} {'biz':>5} {'CPU/req':>8} {'RSS/wkr':>7}  target"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        p50, _, p99, p999 = row.run.latency_ms
        lines.append(
            f"{row.name:34} {row.connections:4d} {row.run.rps:7.0f} {row.ratio:6.2f} "
            f"{p50:5.1f}ms {p99:5.1f}ms {p999:5.1f}ms {row.run.socket_errors:5d} "
            f"{row.run.non_2xx:6d} {row.run.business_errors:5d} {row.cpu_us:6.0f}us "
            f"{row.peak_rss_mib:4.0f}MiB  {row.target}"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per row")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before a row")
    parser.add_argument(
        "--connections", default="8,64", help="comma-separated connection counts (default 8,64)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server workers")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (the baseline always runs)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy flame graphs of the c64 rows into DIR (their figures then skew)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 s a row, no warm-up, c64 only"
    )
    args = parser.parse_args()
    args.connections = sorted({int(count) for count in args.connections.split(",")})
    args.only = set(args.only.split(",")) if args.only else set()
    unknown = args.only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.quick:
        args.duration, args.warmup, args.connections = 1, 0, args.connections[-1:]
    return args


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    rows = baseline(args, secrets.token_urlsafe(32))
    with tempfile.TemporaryDirectory() as folder:
        if "sqlite" in args.only:
            rows += database_rows(args, "SQLite", f"sqlite:///{folder}/bench.db", Path(folder))
        postgres = asyncio.run(_postgres_database()) if "postgres" in args.only else None
        if postgres is None and "postgres" in args.only:
            print("PostgreSQL not reachable: its rows are left out", file=sys.stderr)
        if postgres is not None:
            try:
                rows += database_rows(args, "PostgreSQL", postgres, Path(folder))
            finally:
                asyncio.run(_drop_postgres(postgres))
    print(
        f"\n{args.workers} workers per server, wrk -t{args.threads} -d{args.duration}s, "
        f"{os.cpu_count()} cores shared by load generator and servers; ratio: to the baseline "
        "at the same connections (password login: to the argon2 bound)"
    )
    for row in rows:
        if row.reference is not None:
            print(
                f"argon2 bound: {row.reference:.1f} verifications/s ({args.workers} processes, "
                "default profile), measured just before the password row"
            )
    print(f"targets at c{TARGET_CONNECTIONS}; peak memory target <{MEMORY_TARGET_MIB} MiB/worker\n")
    print(table(judged(rows)))


if __name__ == "__main__":
    main()
