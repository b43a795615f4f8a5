"""``XPayAuth``: an ``httpx.Auth`` that logs in at ``POST /client/authenticate`` and renews.

One token is shared by every request made with the same ``XPayAuth``. It is renewed shortly
before its ``expiresAt`` (a tenth of its lifetime, at most ``renew_before`` seconds early),
and once more when a request is answered 401 with it (revoked, or clocks apart). Logins
are serialized: of many requests waiting for a token, one logs in and the others use its
token (a threading lock for ``httpx.Client``, an asyncio lock per event loop for
``httpx.AsyncClient``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from xpay_auth.client._errors import AuthenticationError

AUTHENTICATE_PATH = "/client/authenticate"
DEFAULT_RENEW_BEFORE = 30.0


@dataclass(frozen=True, slots=True)
class _Token:
    value: SecretStr = field(repr=False)
    ticket: str
    expires_at_ms: int
    renew_at: float  # on the monotonic clock


def _retry_after(response: httpx.Response) -> int | None:
    raw = response.headers.get("retry-after", "")
    return int(raw) if raw.isdigit() else None


def _refusal(response: httpx.Response, body: Any) -> AuthenticationError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return AuthenticationError(
            error["message"],
            status_code=response.status_code,
            tag=error.get("tag") if isinstance(error.get("tag"), str) else None,
            uuid=body.get("uuid") if isinstance(body.get("uuid"), str) else None,
            data=error.get("data"),
            retry_after=_retry_after(response),
        )
    return AuthenticationError(
        "authentication answer is not the contract's envelope",
        status_code=response.status_code,
        uuid=response.headers.get("uuid") or response.request.headers.get("uuid"),
    )


class XPayAuth(httpx.Auth):
    """Bearer tokens from xpay-auth for ``httpx.Client`` and ``httpx.AsyncClient``.

    The secret is held as a ``SecretStr``: it appears in no ``repr``, log line or traceback
    of this class. A refused login raises :class:`AuthenticationError`.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        secret_key: str | SecretStr,
        *,
        is_api: bool = True,
        renew_before: float = DEFAULT_RENEW_BEFORE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if renew_before < 0:
            raise ValueError("renew_before must not be negative")
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._secret = secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        self._is_api = is_api
        self._renew_before = renew_before
        self._clock = clock
        self._token: _Token | None = None
        self._thread_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_locks = weakref.WeakKeyDictionary()
        self.logins = 0

    def __repr__(self) -> str:
        return f"XPayAuth(base_url={self.base_url!r}, username={self.username!r})"

    @property
    def ticket(self) -> str | None:
        """The session of the token in use (not a secret), or None before the first login."""
        return self._token.ticket if self._token else None

    # -- shared by both flows -------------------------------------------------------------

    def _usable(self) -> _Token | None:
        token = self._token
        if token is None or self._clock() >= token.renew_at:
            return None
        return token

    def _login_request(self) -> httpx.Request:
        body = {
            "username": self.username,
            "secretKey": self._secret.get_secret_value(),
            "isAPI": self._is_api,
        }
        return httpx.Request(
            "POST",
            self.base_url + AUTHENTICATE_PATH,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "uuid": str(uuid.uuid4())},
        )

    def _accept(self, response: httpx.Response) -> _Token:
        """The token of a login answer, kept for later requests; else the typed error."""
        self.logins += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        try:
            data = body["success"]["data"]
            access_token, expires_at_ms = data["access_token"], data["expiresAt"]
            ticket = data["ticket"]
        except (KeyError, TypeError):
            raise _refusal(response, body) from None
        if not isinstance(access_token, str) or not isinstance(expires_at_ms, int):
            raise _refusal(response, body)
        lifetime = expires_at_ms / 1000 - time.time()
        margin = min(self._renew_before, max(lifetime, 0.0) / 10)
        renew_at = self._clock() + lifetime - margin
        token = _Token(SecretStr(access_token), str(ticket), expires_at_ms, renew_at)
        self._token = token
        return token

    def _forget(self, token: _Token) -> None:
        # Only the token that was refused: another request may already have renewed it.
        if self._token is token:
            self._token = None

    @staticmethod
    def _with_token(request: httpx.Request, token: _Token) -> httpx.Request:
        request.headers["Authorization"] = "Bearer " + token.value.get_secret_value()
        return request

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            lock = self._loop_locks[loop] = asyncio.Lock()
        return lock

    # -- httpx.Client ---------------------------------------------------------------------

    def _sync_token(
        self, refused: _Token | None
    ) -> Generator[httpx.Request, httpx.Response, _Token]:
        with self._thread_lock:
            if refused is not None:
                self._forget(refused)
            token = self._usable()
            if token is None:
                response = yield self._login_request()
                response.read()
                token = self._accept(response)
            return token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        token = self._usable() or (yield from self._sync_token(None))
        response = yield self._with_token(request, token)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            token = yield from self._sync_token(token)
            yield self._with_token(request, token)

    # -- httpx.AsyncClient ----------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self._usable()
        if token is None:
            async with self._loop_lock():
                token = self._usable()
                if token is None:
                    response = yield self._login_request()
                    await response.aread()
                    token = self._accept(response)
        response = yield self._with_token(request, token)
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return
        async with self._loop_lock():
            self._forget(token)
            renewed = self._usable()
            if renewed is None:
                login = yield self._login_request()
                await login.aread()
                renewed = self._accept(login)
        yield self._with_token(request, renewed)
