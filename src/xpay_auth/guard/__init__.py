"""Accept xpay-auth bearer tokens in another service, checked locally and fast.

    from fastapi import Depends, FastAPI
    from xpay_auth.guard import AccessClaims, Guard, GuardConfig, GuardMiddleware, require_scopes

    guard = Guard(GuardConfig.from_environ())  # XPAY_GUARD_AUTH_URL, _USERNAME, _SECRET_KEY
    app = FastAPI(lifespan=guard.lifespan)
    app.add_middleware(GuardMiddleware, guard=guard, public_paths={"/healthz"})

    @app.post("/wallets/balance")
    async def balance(claims: AccessClaims = Depends(require_scopes("tme_user"))) -> ...

Tokens are verified with the service's own :class:`~xpay_auth.security.tokens.TokenVerifier`
against the published key set; revocations arrive by polling ``GET /auth/revocations``
(with the guard's own ``tme_verifier`` key, changes after a cursor) and are honoured
within :attr:`GuardConfig.revocation_bound` seconds (5 by default).
See ``docs/guard.md``.
"""

from xpay_auth.guard._asgi import (
    CLAIMS_KEY,
    UUID_KEY,
    GuardMiddleware,
    claims_of,
    request_uuid_of,
    require_scopes,
)
from xpay_auth.guard._config import GuardConfig
from xpay_auth.guard._guard import Guard, GuardUnavailable, check_scopes
from xpay_auth.security.claims import AccessClaims

__all__ = [
    "CLAIMS_KEY",
    "UUID_KEY",
    "AccessClaims",
    "Guard",
    "GuardConfig",
    "GuardMiddleware",
    "GuardUnavailable",
    "check_scopes",
    "claims_of",
    "request_uuid_of",
    "require_scopes",
]
