"""Bearer tokens presented to this service: verification, session facts, logout."""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.components.keyring import Keyring
from xpay_auth.errors import Forbidden, Unauthorized
from xpay_auth.request_context import RequestContext
from xpay_auth.security.bearer import bearer_token
from xpay_auth.security.claims import AccessClaims
from xpay_auth.security.tokens import InvalidToken, TokenVerifier, UnknownKey
from xpay_auth.services.revocations import revoke_token_session
from xpay_auth.storage.revocations import RevocationRepository


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What checking a bearer token and logging out read and write; built once per process."""

    verifier: TokenVerifier
    keyring: Keyring  # reloaded when a token names a key this process has not loaded
    revocations: RevocationRepository
    audit: AuditTrail


async def verify_token(deps: SessionDeps, token: str) -> AccessClaims:
    """Signature, header and claims, then revocation: any failure is a 401."""
    try:
        try:
            claims = deps.verifier.verify(token)
        except UnknownKey:
            # A rotation on another node may have added a key this process has not loaded.
            if not await deps.keyring.reload_on_unknown_kid():
                raise
            claims = deps.verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(detail=str(exc)) from exc
    revoked = await deps.revocations.is_revoked(
        ticket=claims.ticket,
        key_id=claims.key_id,
        account_id=claims.subject,
        issued_at_s=claims.issued_at,
    )
    if revoked:
        raise Unauthorized(detail="token revoked")
    return claims


async def authorize(
    deps: SessionDeps,
    authorization: str | None,
    *,
    scope: str | None = None,
    dashboard_only: bool = False,
    also: tuple[str, ...] = (),
) -> AccessClaims:
    """The verified claims of the request's bearer token, with the scope the call needs.

    ``also`` names scopes that serve instead of ``scope`` (a broader scope that includes a
    narrower one); a 403 names ``scope``, the least the call needs.
    """
    claims = await verify_token(deps, bearer_token(authorization))
    if scope is not None and not any(name in claims.scopes for name in (scope, *also)):
        raise Forbidden(required=scope, detail=f"token lacks {scope}")
    if dashboard_only and claims.is_api:
        raise Forbidden(required="dashboard session", detail="API-key token on a dashboard call")
    return claims


async def logout(deps: SessionDeps, claims: AccessClaims, ctx: RequestContext) -> None:
    await revoke_token_session(deps.revocations, claims)
    await deps.audit.record(
        "session.logged_out",
        "ok",
        ctx,
        username=claims.username,
        account_id=claims.subject,
        key_id=claims.key_id,
        ticket=claims.ticket,
    )
