"""A PostgreSQL outage under load: 503 with Retry-After, never 500, and a quiet log.

A private PostgreSQL server (never the shared one) is stopped with an admin shutdown while
six clients keep calling a real server, then started again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.conftest import Server, server_env
from tests.private_postgres import PrivatePostgres, create_private_postgres

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

USER = "load@example.com"
PASSWORD = "Tq8-vortex-lantern-9Xe-plum"
OUTAGE_SECONDS = 4.0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = create_private_postgres()
    yield server
    server.destroy()


@dataclass
class Load:
    """Clients calling in a loop; each answer kept as (moment, path, status, Retry-After)."""

    server: Server
    calls: list[tuple[str, dict[str, object], str | None]]
    answers: list[tuple[float, str, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _client(self, index: int) -> None:
        path, body, token = self.calls[index % len(self.calls)]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=self.server.base_url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(path, json=body, headers=headers)
                except httpx.HTTPError:
                    continue
                self.answers.append(
                    (
                        time.monotonic(),
                        path,
                        response.status_code,
                        response.headers.get("retry-after"),
                    )
                )

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        return threads


def _failure_lines(log: str) -> list[dict[str, object]]:
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request.failed":
                lines.append(entry)
    return lines


def test_a_postgres_outage_answers_503_with_retry_after_and_logs_each_failure_once(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """Under load through an admin shutdown: only 200 and 503 + Retry-After, a few log lines."""
    server = Server(env=server_env(private_postgres.url), workdir=tmp_path)
    server.start()
    try:
        server.create_user(USER, password=PASSWORD)
        secret = str(server.create_key(USER)["secretKey"])
        dashboard = str(server.login(USER, PASSWORD, is_api=False)["access_token"])
        login = {"username": USER, "secretKey": secret, "isAPI": True}
        load = Load(
            server,
            [
                ("/client/authenticate", login, None),
                ("/client/keys/search", {}, dashboard),
                ("/client/sessions/search", {}, dashboard),
            ],
        )
        threads = load.run(6)
        time.sleep(1.5)
        stopped_at = time.monotonic()
        private_postgres.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        private_postgres.start()
        back_at = time.monotonic()
        deadline = back_at + 15
        while time.monotonic() < deadline:
            recent = [answer for answer in load.answers[-30:] if answer[0] > back_at]
            if len(recent) >= 30 and all(answer[2] == 200 for answer in recent):
                break
            time.sleep(0.2)
        time.sleep(1)
        load.stop.set()
        for thread in threads:
            thread.join()
    finally:
        server.stop()

    answers = list(load.answers)
    statuses = Counter(status for _, _, status, _ in answers)
    during = [answer for answer in answers if answer[0] >= stopped_at]
    unavailable = [answer for answer in during if answer[2] == 503]
    lines = _failure_lines(server.log())
    server_lines = [line for line in lines if int(str(line["status"])) >= 500]
    print(  # noqa: T201  the numbers, for the record of the run
        f"answers {dict(statuses)}; 503 during the outage {len(unavailable)}; "
        f"request.failed lines at 5xx {len(server_lines)}; "
        f"kinds {sorted({str(line['detail']) for line in server_lines})}"
    )
    assert set(statuses) <= {200, 503}, statuses
    assert len(unavailable) >= 50, statuses
    assert all(retry == "2" for _, _, status, retry in answers if status == 503)
    recovered = [answer for answer in answers if answer[0] > back_at and answer[2] == 200]
    assert recovered, "no call succeeded after PostgreSQL came back"
    assert recovered[0][0] - back_at < 5
    kinds = {(line["status"], line["error"], line["detail"]) for line in server_lines}
    # One line per kind within the 10 s interval (the outage is shorter), and the count.
    assert len(server_lines) <= 2 * len(kinds), [line["detail"] for line in server_lines]
    assert len(server_lines) < len(unavailable) / 10
