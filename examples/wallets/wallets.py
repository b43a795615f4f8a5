"""A small wallets API protected by ``xpay_auth.guard``: the pattern other services follow.

Two calls, ``POST /wallets/balance`` and ``POST /wallets/transfer``, in the platform's
envelope, each needing a token with scope ``tme_user``. Balances live in memory and every
new wallet opens with 100.00 EUR: this is an example of the guard, not a ledger.

Run it with ``uvicorn wallets:create_app --factory --app-dir examples/wallets`` and
``XPAY_GUARD_AUTH_URL`` pointing at xpay-auth (see README.md beside this file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from xpay_auth.contract import (
    check_content_type,
    error_response,
    parse_json_object,
    success_response,
)
from xpay_auth.errors import (
    BusinessError,
    InvalidField,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    XpayAuthError,
)
from xpay_auth.guard import (
    AccessClaims,
    Guard,
    GuardConfig,
    GuardMiddleware,
    GuardUnavailable,
    request_uuid_of,
    require_scopes,
)
from xpay_auth.logs import configure_logging, log_event

CURRENCY = "EUR"
OPENING_BALANCE = 10_000  # minor units: 100.00 EUR
MAX_AMOUNT = 100_000_000
MAX_BODY_BYTES = 16 * 1024

User = Annotated[AccessClaims, Depends(require_scopes("tme_user"))]


class InsufficientFunds(BusinessError):
    message = "insufficient funds"


@dataclass
class Ledger:
    """Balances by username, in minor units; each call runs without awaiting, so atomically."""

    balances: dict[str, int] = field(default_factory=dict)

    def balance(self, username: str) -> int:
        return self.balances.setdefault(username, OPENING_BALANCE)

    def transfer(self, source: str, target: str, amount: int) -> int:
        available = self.balance(source)
        if amount > available:
            raise InsufficientFunds({"balance": available, "currency": CURRENCY})
        self.balances[source] = available - amount
        self.balances[target] = self.balance(target) + amount
        return self.balances[source]


async def json_body(request: Request, *, allow_empty: bool) -> dict[str, Any]:
    """The body as one JSON object, by the contract's rules (415, 413, 400)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge
    check_content_type(request.headers.get("content-type"), body_present=bool(raw))
    if allow_empty and not raw.strip():
        return {}
    return parse_json_object(raw)


def amount_field(body: dict[str, Any]) -> int:
    value = body.get("amount")
    # bool is an int in Python; a JSON true is not an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidField("amount", "must be an integer number of cents")
    if not 0 < value <= MAX_AMOUNT:
        raise InvalidField("amount", f"must be between 1 and {MAX_AMOUNT}")
    return value


def target_field(body: dict[str, Any], source: str) -> str:
    value = body.get("to")
    if not isinstance(value, str) or not value.strip() or len(value) > 320:  # noqa: PLR2004
        raise InvalidField("to", "must be a username")
    target = value.strip().lower()
    if target == source:
        raise InvalidField("to", "must be another wallet")
    return target


def create_app(config: GuardConfig | None = None) -> FastAPI:
    """The ASGI app; the guard's settings come from ``XPAY_GUARD_*`` unless given."""
    configure_logging()
    guard = Guard(config or GuardConfig.from_environ())
    ledger = Ledger()
    app = FastAPI(
        title="wallets (example)",
        lifespan=guard.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # The guard checks every path but /healthz, and renders refusals in the envelope;
    # errors raised by the endpoints below (XpayAuthError) are rendered by it too.
    app.add_middleware(GuardMiddleware, guard=guard, public_paths={"/healthz"})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        error: XpayAuthError = MethodNotAllowed() if status == 405 else RouteNotFound()  # noqa: PLR2004
        return error_response(request_uuid_of(request), error, path=request.url.path)

    app.add_exception_handler(HTTPException, http_error)

    @app.get("/healthz")
    async def healthz(request: Request) -> Response:
        """Ready when the guard has keys and a fresh revocation list."""
        status = guard.status()
        if not status["ready"]:
            return error_response(request_uuid_of(request), GuardUnavailable(status))
        return success_response(request_uuid_of(request), "ok", status)

    @app.post("/wallets/balance")
    async def balance(request: Request, user: User) -> Response:
        """The caller's balance."""
        await json_body(request, allow_empty=True)
        data = {
            "username": user.username,
            "balance": ledger.balance(user.username),
            "currency": CURRENCY,
        }
        return success_response(request_uuid_of(request), "balance", data)

    @app.post("/wallets/transfer")
    async def transfer(request: Request, user: User) -> Response:
        """Move ``amount`` cents from the caller's wallet to the wallet of ``to``."""
        body = await json_body(request, allow_empty=False)
        amount = amount_field(body)
        target = target_field(body, user.username)
        remaining = ledger.transfer(user.username, target, amount)
        log_event(
            "wallet.transferred",
            uuid=request_uuid_of(request),
            source=user.username,
            target=target,
            amount=amount,
            ticket=user.ticket,
        )
        data = {
            "from": user.username,
            "to": target,
            "amount": amount,
            "balance": remaining,
            "currency": CURRENCY,
        }
        return success_response(request_uuid_of(request), "transferred", data)

    return app
