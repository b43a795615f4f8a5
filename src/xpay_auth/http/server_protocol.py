"""The HTTP/1.1 connection protocol the server runs: uvicorn's, with a deadline on headers.

uvicorn closes a keep-alive connection after ``timeout_keep_alive`` idle seconds (5 by
default), but a request that has begun has no deadline for its headers: a client trickling
one header byte every few seconds ("slowloris") would hold its connection, and a file
descriptor, for ever. Here every request's headers must be complete within
``XPAY_AUTH_HEADER_TIMEOUT`` seconds of the connection opening or of the request's first
byte, and within ``MAX_HEADER_BYTES``; otherwise the client gets a 400 in the envelope and
the connection is closed. The body has its own deadline in ``http.endpoint.read_body``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from xpay_auth.contract import error_response, request_uuid
from xpay_auth.errors import BadRequest
from xpay_auth.settings import load_settings

# Four times what any client of ours sends (a bearer token is under 2 KiB); nginx's default
# for large client headers is 4 buffers of 8 KiB.
MAX_HEADER_BYTES = 32 * 1024
_STATUS_LINE = b"HTTP/1.1 400 Bad Request\r\n"


@functools.cache
def header_timeout() -> float:
    """Read once per worker process, from the same ``XPAY_AUTH_*`` settings as the app."""
    return load_settings().header_timeout


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = False
        self._header_bytes = 0

    def _expect_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self._cancel_deadline()
        self._deadline = self.loop.call_later(header_timeout(), self._headers_late)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is a slow request too.
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse("request headers too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The first request's deadline runs from the connection's start; later ones from
        # their first byte (the idle time between requests is uvicorn's keep-alive timeout).
        if not self._awaiting_headers:
            self._expect_headers()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel_deadline()
        super().on_headers_complete()

    def _headers_late(self) -> None:
        self._deadline = None
        if self._awaiting_headers:
            self._refuse("request headers not received in time")

    def _refuse(self, message: str) -> None:
        self._awaiting_headers = False
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is still being answered: a 400 now would interleave.
            self.transport.close()
            return
        response = error_response(request_uuid(None), BadRequest(message=message), path="")
        head = b"".join(
            name + b": " + value + b"\r\n"
            for name, value in response.raw_headers
            if name.lower() != b"connection"
        )
        self.transport.write(_STATUS_LINE + head + b"connection: close\r\n\r\n" + response.body)
        self.transport.close()
