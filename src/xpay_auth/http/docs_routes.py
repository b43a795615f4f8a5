"""``GET /docs``: the OpenAPI description rendered by Swagger UI, from this origin alone.

Swagger UI's script and stylesheet come from the ``swagger-ui-py`` package, read from its
files without importing it; the page and its small start-up script ship in this package
(``xpay_auth/apidocs/``). Nothing is loaded from elsewhere, and the Content Security Policy
says so: only this origin's scripts and stylesheets, no inline code, no framing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from importlib import resources
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.http.console_routes import SECURITY_HEADERS

_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    # The description, and the calls "Try it out" makes, go to this origin only.
    "connect-src 'self'",
    # Swagger UI's stylesheet draws its icons as data: images.
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY)
HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}

_PAGE = "index.html"
# Each asset: where it comes from, and its media type.
DOCS_ASSETS = {
    "swagger-ui-bundle.js": ("swagger_ui", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger_ui", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("swagger_ui", "image/png"),
    "docs.js": ("xpay_auth", "text/javascript; charset=utf-8"),
}


def _swagger_ui_static() -> Path:
    """Swagger UI's static files in the installed ``swagger-ui-py``."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install xpay-auth again")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and a strong ETag, read once per process."""
    if name == _PAGE or DOCS_ASSETS[name][0] == "xpay_auth":
        content = resources.files("xpay_auth").joinpath("apidocs", name).read_bytes()
    else:
        content = (_swagger_ui_static() / name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def _serve(request: Request, name: str, media_type: str) -> Response:
    content, etag = _asset(name)
    headers = {**HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content, headers=headers, media_type=media_type)


async def docs_page(request: Request) -> Response:
    """The API reference page."""
    return _serve(request, _PAGE, "text/html; charset=utf-8")


async def docs_asset(request: Request) -> Response:
    """Swagger UI's script, stylesheet or icon, or the page's start-up script; else 404."""
    name = request.path_params["asset"]
    if name not in DOCS_ASSETS:
        raise HTTPException(status_code=404)
    return _serve(request, name, DOCS_ASSETS[name][1])


routes = [
    Route("/docs", docs_page, methods=["GET"]),
    Route("/docs/{asset}", docs_asset, methods=["GET"]),
]
