"""The console's defences as a browser enforces them, its accessibility, and its screenshots.

``XPAY_AUTH_SCREENSHOTS=DIR`` makes the screenshot test also write its pictures to DIR
(``scripts/screenshots`` uses ``docs/screenshots``).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Error, Page, expect

from tests.browser.conftest import OPERATOR, Console, Watched
from tests.browser.test_console import create_key, logs_in, sign_in

# Every control has an accessible name, every header cell a scope, every id is unique, and
# every visible text (placeholders included) keeps WCAG 2.2 AA contrast on the background
# actually behind it (4.5:1, or 3:1 for large text), composited through transparent layers.
AUDIT_PAGE = Path(__file__).with_name("audit_page.js").read_text()

VIEWS = [("API keys", "API keys"), ("Sessions", "Sessions"), ("Password", "Change password"),
         ("Accounts", "Accounts"), ("Audit trail", "Audit trail")]  # fmt: skip


def visit_every_view(page: Page) -> list[str]:
    """Open each view in turn; the accessibility findings of every one, the dialog included."""
    problems: list[str] = []
    for button, heading in VIEWS:
        page.get_by_role("navigation").get_by_role("button", name=button).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_focused()
        found = page.evaluate(AUDIT_PAGE)
        assert found["checked"] > 5
        problems += [f"{heading}: {problem}" for problem in found["problems"]]
    return problems


def test_every_view_has_named_controls_and_readable_contrast(page: Page) -> None:
    """On every view, signed out and in, controls are labelled and text meets WCAG AA contrast."""
    found = page.evaluate(AUDIT_PAGE)
    assert found["problems"] == []
    sign_in(page, OPERATOR)
    create_key(page, "contrast-check")
    problems = visit_every_view(page)
    page.get_by_role("navigation").get_by_role("button", name="API keys").click()
    page.get_by_role("button", name="Revoke key contrast-check").click()
    problems += page.evaluate(AUDIT_PAGE)["problems"]
    assert problems == []


def test_keyboard_focus_is_always_visible(page: Page) -> None:
    """Tabbing to a control draws a visible focus outline on it."""
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline[0] != "none"
    assert outline[1] >= 2


def test_no_console_error_and_no_policy_violation_in_normal_use(watched: Watched) -> None:
    """Signing in, creating, copying and visiting every view logs no error and breaks no CSP."""
    page = watched.page
    sign_in(page, OPERATOR)
    create_key(page, "policy-check")
    page.get_by_role("button", name="Copy secret").click()
    visit_every_view(page)
    page.get_by_role("navigation").get_by_role("button", name="API keys").click()
    page.get_by_role("button", name="Rotate key policy-check").click()
    page.keyboard.press("Escape")
    assert watched.errors == []
    assert watched.violations() == []


def test_the_policy_blocks_foreign_content_and_html_strings(watched: Watched) -> None:
    """The served policy is enforced: a foreign image is refused, and an HTML string throws."""
    page = watched.page
    page.evaluate(
        "() => { const img = document.createElement('img');"
        " img.src = 'https://example.invalid/pixel.png'; document.body.append(img); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert watched.violations() == ["img-src https://example.invalid/pixel.png"]
    with pytest.raises(Error, match="TrustedHTML"):
        page.evaluate("() => { document.body.innerHTML = '<b>injected</b>'; }")


def test_markup_in_a_key_name_is_shown_as_text(watched: Watched) -> None:
    """A key named like HTML is listed as those characters; no element is made and nothing runs."""
    page = watched.page
    name = '<img src=x onerror="document.title=1">'
    sign_in(page, OPERATOR)
    create_key(page, name)
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)
    assert page.locator("main img").count() == 0
    assert page.title() == "Key console · xpay-auth"
    assert page.get_by_role("heading", name=f"Secret of key {name}").is_visible()
    assert watched.errors == []
    assert watched.violations() == []


@contextmanager
def framing_site(console: Console) -> Iterator[str]:
    """Another origin (a second port on this machine) whose page frames the console.

    It is a real server on a loopback address, as the console is: Chromium blocks a public
    page from framing a loopback one whatever the headers, so only a local page shows what
    the console's own headers do.
    """
    page = f'<h1>prize</h1><iframe name="victim" src="{console.url}"></iframe>'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_site_cannot_frame_the_console(context: BrowserContext, console: Console) -> None:
    """A page of another origin that frames the console gets a blocked, empty frame."""
    page = context.new_page()
    blocked: list[str] = []
    page.on("requestfailed", lambda request: blocked.append(str(request.failure)))
    with framing_site(console) as url:
        page.goto(url)
        expect(page.get_by_role("heading", name="prize")).to_be_visible()
        page.wait_for_load_state("load")
    frame = page.frame(name="victim")
    assert frame is not None
    assert frame.url.startswith("chrome-error://")
    assert frame.locator("#signin-form").count() == 0
    assert blocked == ["net::ERR_BLOCKED_BY_RESPONSE"]


def test_screenshots_of_the_main_views(page: Page, console: Console, tmp_path: Path) -> None:
    """Each main view renders and is pictured (and kept where XPAY_AUTH_SCREENSHOTS says)."""
    pictures = tmp_path / "screenshots"
    pictures.mkdir()

    def shoot(name: str) -> None:
        page.wait_for_timeout(150)
        page.screenshot(path=pictures / f"{name}.png", full_page=True)

    shoot("sign-in")
    sign_in(page, OPERATOR)
    create_key(page, "reporting", days="90")
    page.get_by_role("button", name="I have stored it").click()
    used = create_key(page, "payments-api", days="365", cidrs="127.0.0.1\n203.0.113.0/24")
    page.get_by_role("button", name="I have stored it").click()
    assert logs_in(console, OPERATOR, used)
    create_key(page, "ci-deploy", days="30")
    page.get_by_role("button", name="Copy secret").click()
    shoot("keys")

    page.get_by_role("button", name="I have stored it").click()
    page.get_by_role("button", name="Rotate key reporting").click()
    shoot("rotate")
    page.keyboard.press("Escape")

    for button, name in (("Sessions", "sessions"), ("Password", "password")):
        page.get_by_role("navigation").get_by_role("button", name=button).click()
        shoot(name)
    page.get_by_role("navigation").get_by_role("button", name="Accounts").click()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("match")
    page.get_by_role("button", name="Disable dana@example.com").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable account").click()
    expect(page.get_by_role("button", name="Enable dana@example.com")).to_be_visible()
    shoot("accounts")
    page.get_by_role("navigation").get_by_role("button", name="Audit trail").click()
    shoot("audit")

    made = sorted(path.name for path in pictures.iterdir())
    assert made == [f"{name}.png" for name in sorted(
        ("sign-in", "keys", "rotate", "sessions", "password", "accounts", "audit")
    )]  # fmt: skip
    for path in pictures.iterdir():
        assert path.stat().st_size > 10_000
    if target := os.environ.get("XPAY_AUTH_SCREENSHOTS"):
        Path(target).mkdir(parents=True, exist_ok=True)
        for path in pictures.iterdir():
            shutil.copyfile(path, Path(target) / path.name)
