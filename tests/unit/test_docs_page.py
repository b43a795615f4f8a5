"""GET /docs: the reference page and its assets, served by the service under a strict CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.support import Harness, running_app
from xpay_auth.http.docs_routes import CONTENT_SECURITY_POLICY, DOCS_ASSETS


@pytest.fixture
def harness(sqlite_url: str) -> Iterator[Harness]:
    """The real app in-process; the page needs no database, so one backend is enough."""
    with running_app(make_settings(sqlite_url)) as running:
        yield running


def _assert_locked_down(headers: dict[str, str]) -> None:
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_the_policy_allows_this_origin_alone_and_no_inline_code() -> None:
    """Scripts, styles and requests come from this origin only; nothing may frame the page."""
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_the_page_and_every_asset_are_served_with_the_policy(harness: Harness) -> None:
    """/docs and each asset answer 200 with their media type and the security headers."""
    page = harness.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    _assert_locked_down(dict(page.headers))
    # Every script and stylesheet the page names is one of ours, on this origin.
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert referenced
    assert all(not re.match(r"[a-z]+:|//", url) for url in referenced), referenced
    assert {url.removeprefix("docs/") for url in referenced if url.startswith("docs/")} == set(
        DOCS_ASSETS
    )
    for name, (_, media_type) in DOCS_ASSETS.items():
        asset = harness.client.get(f"/docs/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == media_type
        assert asset.content
        _assert_locked_down(dict(asset.headers))
    bundle = harness.client.get("/docs/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert "validatorUrl: null" in harness.client.get("/docs/docs.js").text


def test_unknown_assets_and_revalidation(harness: Harness) -> None:
    """Any other asset name is 404; a matching ETag answers 304 with the policy."""
    assert harness.client.get("/docs/../settings.py").status_code == 404
    assert harness.client.get("/docs/index.html").status_code == 404
    first = harness.client.get("/docs/swagger-ui.css")
    again = harness.client.get(
        "/docs/swagger-ui.css", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    _assert_locked_down(dict(again.headers))
