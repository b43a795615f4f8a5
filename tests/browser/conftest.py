"""The key console in a real headless Chromium, against a real server process.

Chromium is Debian's ``chromium`` package at ``/usr/bin/chromium`` (``XPAY_AUTH_TEST_CHROMIUM``
names another), driven by Playwright over the DevTools protocol; Playwright's own browser
downloads are never used. Outside CI the tests skip, saying why, when Chromium is absent;
in CI they fail instead.

Accounts are made in the server's database before the browser starts: Playwright's sync API
keeps an event loop running on this thread, so no ``asyncio.run`` may follow it here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.conftest import unavailable
from tests.e2e.conftest import Server, server_env
from tests.e2e.helpers import Direct
from tests.support import PASSWORD

CHROMIUM = os.environ.get("XPAY_AUTH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

USER = "alice@example.com"
PASSWORD_USER = "bob@example.com"
SESSIONS_USER = "dana@example.com"
TARGET = "carol@example.com"
OPERATOR = "ops@example.com"
MANY_KEYS_USER = "erin@example.com"
MANY_KEYS = 25


@dataclass
class Console:
    """The running server, and the accounts made for these tests."""

    server: Server

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/console"


@dataclass
class Watched:
    """A page, and everything it reported: console errors, page errors, CSP violations."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__cspViolations || []")
        return found


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Console]:
    """A real server on a fresh SQLite database, with a user, an operator and others."""
    workdir = tmp_path_factory.mktemp("console")
    shutil.copyfile(sqlite_template, workdir / "xpay-auth.db")
    server = Server(env=server_env(f"sqlite:///{workdir / 'xpay-auth.db'}"), workdir=workdir)
    direct = Direct(server)
    for username in (USER, PASSWORD_USER, SESSIONS_USER, TARGET):
        direct.create_user(username, password=PASSWORD)
    direct.create_user(OPERATOR, scopes=("tme_admin", "tme_user"), password=PASSWORD)
    direct.create_user(MANY_KEYS_USER, password=PASSWORD, keys=MANY_KEYS, name="batch")
    server.start()
    yield Console(server)
    server.stop()
    assert '"status":500' not in server.log()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    """One headless Chromium for the module (started after the accounts exist)."""
    del console
    if not Path(CHROMIUM).is_file():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Recorded before any page script runs: a test hook, never part of the console itself.
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    """A fresh browser profile: no cookies, no storage, clipboard allowed for the console."""
    made = browser.new_context(
        viewport={"width": 1280, "height": 800},
        timezone_id="UTC",
        locale="en-GB",
        color_scheme="light",
    )
    made.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.server.base_url)
    made.add_init_script(_RECORD_VIOLATIONS)
    made.set_default_timeout(10_000)
    yield made
    made.close()


@pytest.fixture
def watched(context: BrowserContext, console: Console) -> Watched:
    """A page on the console, recording every console error and uncaught exception."""
    page = context.new_page()
    result = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            result.errors.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: result.errors.append(f"pageerror: {error}"))
    page.goto(console.url)
    return result


@pytest.fixture
def page(watched: Watched) -> Page:
    return watched.page


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)
