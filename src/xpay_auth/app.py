"""The ASGI application: ``create_app(settings)`` builds it; nothing exists at import time."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from xpay_auth.contract import error_response, request_uuid
from xpay_auth.errors import InternalError, MethodNotAllowed, RouteNotFound, XpayAuthError
from xpay_auth.http import (
    account_routes,
    admin_routes,
    audit_routes,
    client_routes,
    console_routes,
    docs_routes,
    infra_routes,
    introspect_routes,
    key_routes,
    metrics_routes,
    oauth_routes,
    verify_routes,
)
from xpay_auth.http.endpoint import as_error
from xpay_auth.logs import configure_logging, log_event
from xpay_auth.metrics import PUBLISH_SECONDS, Metrics
from xpay_auth.runtime import open_runtime
from xpay_auth.services.housekeeping import purge_expired
from xpay_auth.settings import Settings, load_settings

_HOUSEKEEPING_SECONDS = 10.0
# The calls made on every request of a client or a gateway: served without the router and
# the middleware stack (see XpayApp).
HOT_PATHS = frozenset({"/client/authenticate", "/client/session", "/auth/verify"})
_PURGE_SECONDS = 600.0


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    errors: dict[int, type[XpayAuthError]] = {404: RouteNotFound, 405: MethodNotAllowed}
    error = errors.get(status, InternalError)()
    headers = getattr(exc, "headers", None) or {}
    error.headers.update({k: v for k, v in headers.items() if k.lower() == "allow"})
    return error_response(request_uuid(request.headers.get("uuid")), error, path=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Whatever escaped a route, as the routes answer it: a storage failure is 503."""
    rid = request_uuid(request.headers.get("uuid"))
    return error_response(rid, as_error(rid, exc, path=request.url.path), path=request.url.path)


def _as_asgi(endpoint: Any) -> ASGIApp:
    """A route's endpoint as an ASGI app: JSON endpoints are one already."""
    if not inspect.isfunction(endpoint):
        return endpoint  # type: ignore[no-any-return]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, send)

    return app


def hot_routes(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], ASGIApp]:
    """(method, path) of each hot call, to the ASGI app that answers it."""
    found: dict[tuple[str, str], ASGIApp] = {}
    for route in routes:
        if isinstance(route, Route) and route.path in HOT_PATHS:
            app = _as_asgi(route.endpoint)
            for method in route.methods or ():
                found[method, route.path] = app
    return found


class XpayApp(Starlette):
    """Starlette, with the hot calls dispatched by one dictionary lookup.

    The router matches each route's pattern in turn, and the middleware stack wraps every
    call in three layers; the hot calls need neither: their endpoints answer every
    exception in the envelope themselves. Any other method or path (HEAD, a trailing
    slash, 404, 405) takes the ordinary way.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._hot = hot_routes(self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            hot = self._hot.get((scope["method"], scope["path"]))
            if hot is not None:
                scope["app"] = self
                await hot(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            housekeeping = asyncio.create_task(_housekeeping(app))
            publishing = asyncio.create_task(_publish_metrics(runtime.metrics))
            log_event("server.started", database=settings.database_url.split(":", 1)[0])
            try:
                yield
            finally:
                for task in (housekeeping, publishing):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                runtime.metrics.publish()
                log_event("server.stopping", pending_commits=runtime.committer.pending)

    return XpayApp(
        routes=[
            *client_routes.routes,
            *key_routes.routes,
            *account_routes.routes,
            *introspect_routes.routes,
            *oauth_routes.routes,
            *admin_routes.routes,
            *audit_routes.routes,
            *verify_routes.routes,
            *infra_routes.routes,
            *metrics_routes.routes,
            *console_routes.routes,
            *docs_routes.routes,
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )


async def _publish_metrics(metrics: Metrics) -> None:
    """Hand this worker's counts to the registry, so any worker's scrape sees them."""
    while True:
        await asyncio.sleep(PUBLISH_SECONDS)
        metrics.publish()


async def _housekeeping(app: Starlette) -> None:
    """Keep the keyring fresh, and now and then purge expired rows."""
    runtime = app.state.runtime
    # Wake at least as often as XPAY_AUTH_SIGNING_KEY_REFRESH asks, so that a rotation
    # reaches this worker within that many seconds, as documented.
    interval = min(_HOUSEKEEPING_SECONDS, runtime.settings.signing_key_refresh)
    purge_every = max(1, round(_PURGE_SECONDS / interval))
    # Workers start together; a random phase spreads their purges apart.
    rounds = random.randrange(purge_every)  # noqa: S311  scheduling, not security
    while True:
        await asyncio.sleep(interval)
        rounds += 1
        try:
            await runtime.keyring.refresh_if_stale()
            if rounds % purge_every == 0:
                await purge_expired(runtime.services.housekeeping)
        except Exception:  # noqa: BLE001  retried next round
            log_event("housekeeping.failed", level=logging.WARNING, exc_info=True)


def app_from_environment() -> Starlette:
    """The factory uvicorn workers call: settings from ``XPAY_AUTH_*``."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
