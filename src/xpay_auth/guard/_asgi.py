"""ASGI glue: the middleware that checks every request, and the scope dependency.

The middleware answers refusals itself, in the contract's envelope with the request
``uuid``; it also renders any :class:`~xpay_auth.errors.XpayAuthError` the app raises
before its response has started (such as the 403 of :func:`require_scopes`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xpay_auth.contract import error_response, request_uuid
from xpay_auth.errors import XpayAuthError
from xpay_auth.guard._guard import Guard, check_scopes
from xpay_auth.security.claims import AccessClaims

# Keys in scope["state"], so request.state.xpay_claims and friends.
CLAIMS_KEY = "xpay_claims"
UUID_KEY = "xpay_request_uuid"
GUARD_KEY = "xpay_guard"
# RFC 6455 section 7.4.1: 1008 is "policy violation", the close code for a refused peer.
_WS_POLICY_VIOLATION = 1008


def claims_of(connection: HTTPConnection) -> AccessClaims | None:
    """The verified claims the middleware stored, or None on a public path."""
    claims = connection.scope.get("state", {}).get(CLAIMS_KEY)
    return claims if isinstance(claims, AccessClaims) else None


def request_uuid_of(connection: HTTPConnection) -> str:
    """The request's ``uuid`` as the middleware settled it (the client's v4, or a fresh one)."""
    rid = connection.scope.get("state", {}).get(UUID_KEY)
    if isinstance(rid, str):
        return rid
    return request_uuid(connection.headers.get("uuid"))


class GuardMiddleware:
    """Refuse requests without a valid, unrevoked bearer token carrying ``scopes``.

    Paths in ``public_paths`` (exact matches, such as ``/healthz``) pass without a token.
    """

    def __init__(
        self,
        app: ASGIApp,
        guard: Guard,
        *,
        public_paths: Iterable[str] = (),
        scopes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.guard = guard
        self.public_paths = frozenset(public_paths)
        self.scopes = tuple(scopes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = request_uuid(headers.get("uuid"))
        state: dict[str, Any] = scope.setdefault("state", {})
        state[UUID_KEY] = rid
        state[GUARD_KEY] = self.guard
        state.pop(CLAIMS_KEY, None)
        if scope["path"] not in self.public_paths:
            try:
                state[CLAIMS_KEY] = await self.guard.authorize(
                    headers.get("authorization"), self.scopes
                )
            except XpayAuthError as error:
                await self._refuse(scope, receive, send, rid, error)
                return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._call_app(scope, receive, send, rid)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except XpayAuthError as error:
            if started:
                raise
            await error_response(rid, error, path=scope["path"])(scope, receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, rid: str, error: XpayAuthError
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": _WS_POLICY_VIOLATION})
            return
        await error_response(rid, error, path=scope["path"])(scope, receive, send)


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[AccessClaims]]:
    """A dependency giving the request's claims, and 403 unless they carry ``scopes``.

    FastAPI: ``claims: AccessClaims = Depends(require_scopes("tme_user"))``. Starlette:
    ``claims = await require_scopes("tme_user")(request)``. Needs :class:`GuardMiddleware`,
    which also renders the 403; on one of its public paths the token is verified here.
    """
    needed = tuple(scopes)

    async def dependency(request: Request) -> AccessClaims:
        claims = claims_of(request)
        if claims is None:
            guard = request.scope.get("state", {}).get(GUARD_KEY)
            if not isinstance(guard, Guard):
                # A wiring mistake: fail closed with a 500 rather than let the call through.
                raise RuntimeError("require_scopes needs GuardMiddleware around the app")
            claims = await guard.authenticate(request.headers.get("authorization"))
            request.scope["state"][CLAIMS_KEY] = claims
        return check_scopes(claims, needed)

    dependency.__name__ = f"require_scopes_{'_'.join(needed) or 'any'}"
    return dependency
