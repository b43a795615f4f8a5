"""Logins under load against a real server, and the signals that end its processes.

Each client thread keeps one connection and logs in as fast as the server answers; every
answer is kept by kind, so a test can check that what was acknowledged was recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLIENTS = 8


@dataclass
class LoadResult:
    """What the clients saw: the tickets acknowledged, and every other answer by kind."""

    tickets: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0
    transport_errors: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    timeline: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, started: float, elapsed: float, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            self.slowest = max(self.slowest, elapsed)
            self.timeline.append((started, response.status_code))
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                if "success" in body:
                    self.tickets.append(body["success"]["data"]["ticket"])
            elif response.status_code == 503 and "retry-after" not in response.headers:
                self.retry_after_missing += 1

    def answered(self) -> int:
        with self.lock:
            return len(self.tickets)

    def failed(self, started: float, elapsed: float, exc: Exception) -> None:
        with self.lock:
            self.transport_errors[type(exc).__name__] += 1
            self.slowest = max(self.slowest, elapsed)
            self.timeline.append((started, 0))


def login_load(
    base_url: str,
    body: dict[str, Any],
    *,
    seconds: float,
    clients: int = CLIENTS,
    timeout: float = 10.0,
    stop: threading.Event | None = None,
    result: LoadResult | None = None,
) -> LoadResult:
    """``clients`` threads logging in with ``body`` for ``seconds`` (or until ``stop``).

    Answers are added to ``result`` as they come, so another thread can watch it.
    """
    result = result if result is not None else LoadResult()
    stop = stop or threading.Event()
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=timeout) as http:
            while not stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = http.post("/client/authenticate", json=body)
                except httpx.HTTPError as exc:
                    result.failed(started, time.monotonic() - started, exc)
                    # The server is gone or restarting: do not spin on a refused connect.
                    time.sleep(0.01)
                    continue
                result.add(started, time.monotonic() - started, response)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return result


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (uvicorn's workers and their helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        for child in children.get(current, []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree(pid: int) -> int:
    """SIGKILL ``pid`` and everything below it, supervisor first; returns how many were killed."""
    # The supervisor first, so that it cannot start a worker in place of a killed one.
    victims = [pid, *descendants(pid)]
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    return len(victims)
