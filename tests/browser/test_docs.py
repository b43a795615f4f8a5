"""The API reference at /docs in a real headless Chromium: every call rendered, nothing blocked."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Request, Response

from tests.browser.conftest import Console
from xpay_auth.http.calls import CALLS


def test_the_docs_page_renders_every_call_under_its_policy(
    context: BrowserContext, console: Console
) -> None:
    """Swagger UI lists every client call from /openapi.json, with no CSP violation,
    no script error and no request to any other origin."""
    base = console.server.base_url
    page = context.new_page()
    errors: list[str] = []
    requested: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_request(request: Request) -> None:
        requested.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", on_request)

    def on_response(response: Response) -> None:
        if not response.ok:
            errors.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path")
    shown = set(page.locator(".opblock-summary-path").all_inner_texts())
    shown = {path.replace("\u200b", "").strip() for path in shown}
    assert {call.path for call in CALLS} <= shown
    assert page.locator(".info .title").inner_text().startswith("xpay-auth")
    # A call's body schema is the model's: opening one shows its declared limit.
    model = page.locator("section.models article[data-json-schema-level='0']").filter(
        has=page.locator(".json-schema-2020-12__title", has_text="KeyRotate")
    )
    model.get_by_role("button", name="Expand all").click()
    assert "604800" in model.inner_text()
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []
    origins = {urlsplit(url).netloc for url in requested if not url.startswith("data:")}
    assert origins == {urlsplit(base).netloc}
