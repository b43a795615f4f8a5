"""The one wrapper every client call goes through.

It reads the request ``uuid``, enforces the body rules (415, 413, 400), runs the handler,
and renders its result, or any error, in the contract's envelope. Unexpected exceptions
become a 500 whose details stay in the log under the error's tag.

A wrapped call is a plain ASGI app (:class:`JsonEndpoint`): it reads the body straight
from ``receive`` and sends its answer straight to ``send``, without the framework's
per-request wrappers, which cost more on the hot calls than the calls' own work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from xpay_auth.contract import (
    check_content_type,
    error_response,
    parse_json_object,
    request_uuid,
    success_response,
)
from xpay_auth.errors import (
    BadRequest,
    BusinessError,
    InternalError,
    PayloadTooLarge,
    StorageUnavailable,
    XpayAuthError,
)
from xpay_auth.http.client_ip import client_ip
from xpay_auth.logs import hide_statement_parameters, log_event
from xpay_auth.request_context import RequestContext
from xpay_auth.runtime import Runtime
from xpay_auth.settings import DEFAULT_BODY_TIMEOUT
from xpay_auth.storage.database import Database
from xpay_auth.storage.failures import is_storage_failure
from xpay_auth.wiring import Services


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    runtime: Runtime
    ctx: RequestContext
    body: dict[str, Any]

    @property
    def authorization(self) -> str | None:
        return self.request.headers.get("authorization")

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def database(self) -> Database:
        return self.runtime.database


@dataclass(frozen=True, slots=True)
class Reply:
    message: str
    data: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


async def read_body(
    request: Request,
    limit: int,
    *,
    timeout: float = DEFAULT_BODY_TIMEOUT,  # noqa: ASYNC109  covers the body, not the call
) -> bytes:
    """The whole body, refused past ``limit`` bytes (413) or ``timeout`` seconds (400).

    A client that sends its body slowly would otherwise hold the call open as long as it
    likes; the connection is closed after the answer, since the rest of its body may
    still be on the way.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(detail=f"content-length {declared}", headers={"Connection": "close"})
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        detail=f"body over {limit} bytes", headers={"Connection": "close"}
                    )
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError as exc:
        raise BadRequest(
            message="body not received in time",
            detail=f"{size} bytes in {timeout} s",
            headers={"Connection": "close"},
        ) from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def parse_body(
    request: Request,
    limit: int,
    *,
    allow_empty: bool,
    timeout: float = DEFAULT_BODY_TIMEOUT,  # noqa: ASYNC109  passed on to read_body
) -> dict[str, Any]:
    raw = await read_body(request, limit, timeout=timeout)
    check_content_type(request.headers.get("content-type"), body_present=bool(raw))
    if not raw.strip() and allow_empty:
        return {}
    return parse_json_object(raw)


def as_error(rid: str, exc: Exception, *, path: str) -> XpayAuthError:
    """Any exception of a call as one of ours: storage failures as 503, a vanished client
    as 400, anything else as 500 (its details kept for the log)."""
    error: XpayAuthError
    if isinstance(exc, XpayAuthError):
        error = exc
    elif isinstance(exc, ClientDisconnect):
        log_event("request.disconnected", level=logging.INFO, uuid=rid, path=path)
        error = BadRequest(message="client disconnected")
    elif is_storage_failure(exc):
        error = StorageUnavailable(detail=type(exc).__name__)
        error.__cause__ = exc
    else:
        error = InternalError(
            detail=hide_statement_parameters(f"{type(exc).__name__}: {exc}")[:500]
        )
        error.__cause__ = exc
    return error


def failure_response(rid: str, exc: Exception, *, path: str) -> Response:
    """Any exception of a call, in the envelope, with the status :func:`as_error` gives it."""
    return error_response(rid, as_error(rid, exc, path=path), path=path)


class JsonEndpoint:
    """One client call as an ASGI app: body rules, handler, envelope, metrics."""

    def __init__(self, handler: Handler, *, allow_empty: bool) -> None:
        self.handler = handler
        self.allow_empty = allow_empty
        self.call_name = handler.__name__.removesuffix("_call")
        self.__name__ = handler.__name__
        self.__doc__ = handler.__doc__

    async def _answer(self, request: Request, rid: str) -> tuple[Response, bool, Runtime | None]:
        """The response, whether it is a business refusal, and the runtime (for the metrics)."""
        runtime: Runtime | None = None
        try:
            runtime = request.app.state.runtime
            settings = runtime.settings
            ctx = RequestContext(
                rid, client_ip(request, settings.trusted_proxies, settings.proxy_header)
            )
            body = await parse_body(
                request,
                settings.max_body_bytes,
                allow_empty=self.allow_empty,
                timeout=settings.body_timeout,
            )
            reply = await self.handler(Call(request, runtime, ctx, body))
            return success_response(rid, reply.message, reply.data, reply.headers), False, runtime
        except Exception as exc:  # noqa: BLE001  the contract: never a stack trace, always the envelope
            refused = isinstance(exc, BusinessError)
            return failure_response(rid, exc, path=request.url.path), refused, runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        rid = request_uuid(request.headers.get("uuid"))
        response, refused, runtime = await self._answer(request, rid)
        if runtime is not None:
            runtime.metrics.observe(
                self.call_name,
                response.status_code,
                refused=refused,
                seconds=time.perf_counter() - started,
            )
        await response(scope, receive, send)


def json_endpoint(handler: Handler, *, allow_empty: bool = False) -> JsonEndpoint:
    """Wrap ``handler`` as an ASGI endpoint answering in the envelope.

    ``allow_empty`` lets calls without required fields take an empty body as ``{}``.
    """
    return JsonEndpoint(handler, allow_empty=allow_empty)
