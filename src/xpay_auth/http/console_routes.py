"""``GET /console``: the key console, a static page that calls the public API from the browser.

The page, its one script and its one stylesheet ship inside the package
(``xpay_auth/console/``). They are served under a strict Content Security Policy: only this
origin's own script and stylesheet run, no inline code, no framing by any page, and the
browser may talk to this origin alone. The console keeps its token in memory and sends it
in the ``Authorization`` header, never in a cookie, so a forged cross-site request carries
no credential.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    # Forms are handled by the script; a form that ever submitted itself would put the
    # password into a URL, so the browser refuses every form submission.
    "form-action 'none'",
    "frame-ancestors 'none'",
    # The script builds the page with textContent only; with Trusted Types enforced, a
    # string reaching innerHTML or eval throws instead of running.
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # For browsers without CSP frame-ancestors (RFC 7034).
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

_PAGE = "index.html"
CONSOLE_ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_MEDIA_TYPES = {_PAGE: "text/html; charset=utf-8", **CONSOLE_ASSETS}


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and a strong ETag, read once per process."""
    content = resources.files("xpay_auth").joinpath("console", name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def _serve(request: Request, name: str) -> Response:
    content, etag = _asset(name)
    # Revalidated on every load, so a new release's page never runs an older script.
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content, headers=headers, media_type=_MEDIA_TYPES[name])


async def console_page(request: Request) -> Response:
    """The console's page."""
    return _serve(request, _PAGE)


async def console_asset(request: Request) -> Response:
    """The console's script, stylesheet or icon; any other name is 404."""
    name = request.path_params["asset"]
    if name not in CONSOLE_ASSETS:
        raise HTTPException(status_code=404)
    return _serve(request, name)


routes = [
    Route("/console", console_page, methods=["GET"]),
    Route("/console/{asset}", console_asset, methods=["GET"]),
]
