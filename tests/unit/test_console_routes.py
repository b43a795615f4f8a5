"""``GET /console``: the page and its assets, their security headers, and what they may load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.support import Harness, running_app
from xpay_auth.http.console_routes import CONSOLE_ASSETS

POLICY = {
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "require-trusted-types-for 'script'",
}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Harness]:
    with running_app(make_settings(sqlite_url)) as running:
        yield running


class _Page(HTMLParser):
    """Collects the page's tags and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag in {"script", "style"}

    def handle_endtag(self, tag: str) -> None:
        del tag
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


@pytest.mark.parametrize("path", ["/console", *(f"/console/{name}" for name in CONSOLE_ASSETS)])
def test_the_console_is_served_under_a_strict_policy_that_forbids_framing(
    app: Harness, path: str
) -> None:
    """The page and each asset carry the strict CSP, X-Frame-Options DENY and no cookie."""
    response = app.client.get(path)
    assert response.status_code == 200
    directives = {part.strip() for part in response.headers["content-security-policy"].split(";")}
    assert directives >= POLICY
    assert not any("unsafe" in directive for directive in directives)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    expected = "text/html; charset=utf-8" if path == "/console" else CONSOLE_ASSETS[path[9:]]
    assert response.headers["content-type"] == expected


def test_the_page_has_no_inline_code_and_loads_only_its_own_assets(app: Harness) -> None:
    """No inline script, style or event handler; every script and link is one of the assets."""
    page = _Page()
    page.feed(app.client.get("/console").text)
    assert page.script_text == ""
    loaded = set()
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag in {"script", "link"}:
            loaded.add(attrs.get("src") or attrs.get("href"))
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#"), attrs
    assert loaded == {f"/console/{name}" for name in CONSOLE_ASSETS}
    script = app.client.get("/console/console.js").text
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)
    assert not re.search(r"localStorage|sessionStorage|indexedDB|document\.cookie", script)


def test_a_known_asset_revalidates_with_its_etag(app: Harness) -> None:
    """A repeat load with the ETag answers 304 without a body, and keeps the policy."""
    first = app.client.get("/console/console.js")
    again = app.client.get("/console/console.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert "frame-ancestors 'none'" in again.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path", ["/console/index.html", "/console/app.py", "/console/..%2F__init__.py", "/console/x/y"]
)
def test_anything_but_the_assets_is_not_found(app: Harness, path: str) -> None:
    """Other names under /console answer 404 in the error envelope, never a package file."""
    response = app.client.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"error", "uuid"}


def test_api_calls_from_the_console_need_the_bearer_header_not_a_cookie(app: Harness) -> None:
    """A cross-site form post to a key call carries no credential the service accepts."""
    forged = app.client.post(
        "/client/keys/create",
        content=b'{"name": "forged"}',
        headers={
            "Content-Type": "application/json",
            "Origin": "https://attacker.test",
            "Cookie": "session=anything",
        },
    )
    assert forged.status_code == 401
    assert "access-control-allow-origin" not in forged.headers


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=40).filter(lambda name: name not in CONSOLE_ASSETS))
def test_any_other_asset_name_is_a_plain_404(app: Harness, name: str) -> None:
    """Whatever name is asked for under /console, only the three assets are ever served."""
    response = app.client.get(f"/console/{quote(name, safe='')}")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "uuid"}
