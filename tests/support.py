"""Test helpers: an in-process app driven by Starlette's TestClient, and shortcuts.

``Harness`` runs the real application (lifespan, database, keys) in-process; calls to
services run on the app's own event loop through the client's portal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from starlette.testclient import TestClient

from xpay_auth.app import create_app
from xpay_auth.domain import Session
from xpay_auth.runtime import Runtime
from xpay_auth.services import accounts, api_keys
from xpay_auth.settings import Settings
from xpay_auth.wiring import wire

T = TypeVar("T")
PASSWORD = "correct horse battery staple 42"


class Harness:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def replace_parts(self, **parts: object) -> None:
        """Swap parts of the running app's runtime (``passwords``, ``throttle``...) and give
        the services the new ones: they hold their parts, not the runtime."""
        runtime = self.runtime
        for name, part in parts.items():
            setattr(runtime, name, part)
        runtime.services = wire(
            runtime.settings,
            runtime.database,
            passwords=runtime.passwords,
            key_hasher=runtime.key_hasher,
            issuer=runtime.issuer,
            verifier=runtime.verifier,
            keyring=runtime.keyring,
            committer=runtime.committer,
            audit=runtime.audit,
            throttle=runtime.throttle,
        )

    def run(self, action: Callable[[Runtime], Awaitable[T]]) -> T:
        """Run ``action(runtime)`` on the app's event loop."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(action, self.runtime)

    def create_user(
        self,
        username: str,
        *,
        scopes: tuple[str, ...] = ("tme_user",),
        password: str | None = PASSWORD,
    ) -> str:
        async def action(runtime: Runtime) -> str:
            account = await accounts.create_account(
                runtime.services.accounts, username, scopes=scopes, password=password
            )
            return account.id

        return self.run(action)

    def create_key(self, username: str, **options: Any) -> tuple[str, str]:
        """A new key for ``username``: (key id, secret)."""

        async def action(runtime: Runtime) -> tuple[str, str]:
            account = await accounts.require_account(runtime.database.accounts, username)
            issued = await api_keys.create_key(runtime.services.keys, account, **options)
            return issued.key.id, issued.secret

        return self.run(action)

    def post(self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def login(self, username: str, secret: str, *, is_api: bool | str = True) -> dict[str, Any]:
        """The ``data`` of a successful authenticate call (asserts success)."""
        response = self.post(
            "/client/authenticate", {"username": username, "secretKey": secret, "isAPI": is_api}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "success" in body, body
        data: dict[str, Any] = body["success"]["data"]
        return data

    def token_for_key(self, username: str, secret: str) -> str:
        return str(self.login(username, secret)["access_token"])

    def token_for_password(self, username: str, password: str = PASSWORD) -> str:
        return str(self.login(username, password, is_api=False)["access_token"])


def session_record(ticket: str, account_id: str, *, created_at: int, expires_at: int) -> Session:
    """A dashboard session row as a login stores it."""
    return Session(
        ticket=ticket,
        account_id=account_id,
        api_key_id=None,
        is_api=False,
        scopes=("tme_user",),
        created_at_ms=created_at,
        expires_at_ms=expires_at,
    )


@contextmanager
def running_app(settings: Settings) -> Iterator[Harness]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Harness(client)


def mistyped(secret: str) -> str:
    """``secret`` with its last character changed: a wrong secret of the right shape."""
    return secret[:-1] + ("1" if secret.endswith("0") else "0")
