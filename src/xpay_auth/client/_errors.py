"""What the client raises when xpay-auth will not issue a token."""

from __future__ import annotations

from typing import Any


class AuthenticationError(Exception):
    """xpay-auth refused the credentials, or answered something that is not a token.

    ``message``, ``data`` and ``tag`` are the server's error envelope (``tag`` is what
    support looks up in the server log); ``uuid`` is the request's id. A transport failure
    is not this error: httpx raises its own (``httpx.TransportError``).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        tag: str | None = None,
        uuid: str | None = None,
        data: Any = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.tag = tag
        self.uuid = uuid
        self.data = data
        self.retry_after = retry_after
        super().__init__(f"{message} (HTTP {status_code}, tag {tag}, uuid {uuid})")
