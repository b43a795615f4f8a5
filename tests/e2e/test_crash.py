"""A login answered with a token survives any crash: kill -9 of every server process under load.

Eight clients log in with an API key against ``xpay-auth serve --workers 2`` for 1.5 s; then
every server process gets SIGKILL at once, mid-load. After a restart each acknowledged
ticket must be in its owner's session list and have its ``login.succeeded`` audit event.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import every_backend
from tests.e2e.conftest import Server
from tests.e2e.helpers import Direct, success, wait_until
from tests.e2e.load import LoadResult, kill_tree, login_load

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.conftest import ServerFactory

pytestmark = pytest.mark.slow
OWNER = "crash@example.com"
PASSWORD = "correct horse battery staple 7"
LOAD_SECONDS = 1.5


def listed_tickets(server: Server, token: str) -> set[str]:
    """Every ticket of the caller's session list, read page by page over HTTP."""
    found: set[str] = set()
    page = 1
    while True:
        reply = server.post("/client/sessions/search", {"page": page, "pageSize": 100}, token=token)
        data = success(reply)["data"]
        found.update(item["ticket"] for item in data["items"])
        if not data["hasNext"]:
            return found
        page += 1


@every_backend
def test_kill_9_of_every_worker_under_load_loses_no_acknowledged_login(
    server_factory: ServerFactory, database_url: str, report: Callable[[str], None]
) -> None:
    """Every ticket answered before SIGKILL is listed, and audited, after a restart."""
    server = server_factory(workers=2)
    server.create_user(OWNER, password=PASSWORD)
    secret = server.create_key(OWNER)["secretKey"]
    body: dict[str, Any] = {"username": OWNER, "secretKey": secret, "isAPI": True}

    stop = threading.Event()
    result = LoadResult()
    clients = threading.Thread(
        target=login_load,
        args=(server.base_url, body),
        kwargs={"seconds": 60, "stop": stop, "result": result},
    )
    clients.start()
    # The load is timed from its first answer: a busy machine may take a while to start.
    wait_until(lambda: result.answered() > 0, timeout=30, every=0.01)
    time.sleep(LOAD_SECONDS)
    assert server.process is not None
    killed = kill_tree(server.process.pid)
    server.process.wait(timeout=10)
    time.sleep(0.2)
    stop.set()
    clients.join(timeout=30)
    acknowledged = set(result.tickets)
    assert len(acknowledged) > 20, (result.statuses, result.transport_errors)

    server.start()
    # Listing sessions takes a dashboard session: a password login.
    token = server.login(OWNER, PASSWORD, is_api=False)["access_token"]
    listed = listed_tickets(server, token)
    audited = Direct(server).audited_tickets("login.succeeded")
    unlisted = acknowledged - listed
    unaudited = acknowledged - audited
    report(
        f"kill -9 on {database_url.split(':', 1)[0]} ({killed} processes, {LOAD_SECONDS} s of "
        f"load): {len(acknowledged)} acknowledged logins checked, {len(unlisted)} missing "
        f"from the session list, {len(unaudited)} without login.succeeded"
    )
    assert (len(unlisted), len(unaudited)) == (0, 0)
