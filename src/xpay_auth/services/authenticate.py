"""``POST /client/authenticate``: a username and a secret buy an access token.

Every refusal is the same :class:`InvalidCredentials`, whatever the cause, and costs the
same: an unknown key id still computes one HMAC, an unknown user or a locked account still
verifies a password. Failures are throttled per client address (429 before any lookup) and,
for passwords, per account (see ``xpay_auth.throttling``); a locked account is refused like a
wrong password, so the lock reveals nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from dataclasses import dataclass

from xpay_auth import randomness
from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.components.committer import Committer
from xpay_auth.domain import Account, ApiKey, Session
from xpay_auth.errors import (
    InternalError,
    InvalidCredentials,
    ScopeNotGranted,
    StorageUnavailable,
    TooManyRequests,
    XpayAuthError,
)
from xpay_auth.request_context import RequestContext
from xpay_auth.security import api_keys, password_policy
from xpay_auth.security.api_keys import KeyHasher
from xpay_auth.security.claims import DASHBOARD_CLIENT_ID
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.security.tokens import TokenIssuer
from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.storage.api_keys import ApiKeyRepository
from xpay_auth.storage.failures import is_storage_failure
from xpay_auth.throttling.throttle import Throttle


@dataclass(frozen=True, slots=True)
class LoginDeps:
    """What a login reads and writes; built once per process, shared by every login."""

    accounts: AccountRepository
    api_keys: ApiKeyRepository
    throttle: Throttle
    passwords: PasswordHashing
    key_hasher: KeyHasher
    issuer: TokenIssuer
    audit: AuditTrail
    committer: Committer  # the session and audit row, committed with other logins'
    token_ttl: int  # seconds
    password_max_failures: int  # consecutive wrong passwords before password login stops


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str  # already trimmed and lower-cased
    secret: str
    is_api: bool


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    scopes: tuple[str, ...]
    is_api: bool
    ticket: str
    access_token: str
    expires_at_ms: int


def new_ticket() -> str:
    """128 bits from the CSPRNG as 32 lowercase hex characters."""
    return randomness.token_hex(16)


def _address_allowed(key: ApiKey, client_ip: str | None) -> bool:
    if not key.allowed_cidrs:
        return True
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; allow-lists name them
    # as IPv4, so the mapped form must not slip past a network it belongs to.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in key.allowed_cidrs)


def _secret_matches(hasher: KeyHasher, key: ApiKey | None, secret: str, now_ms: int) -> bool:
    stored = key.secret_hash if key is not None else None
    if hasher.matches(secret, stored):
        return True
    # During a rotation's grace period the previous secret still opens the key.
    if key is not None and key.previous_secret_hash is not None:
        in_grace = key.previous_expires_at_ms is not None and key.previous_expires_at_ms > now_ms
        return hasher.matches(secret, key.previous_secret_hash) and in_grace
    return False


def _key_refusal(
    key: ApiKey | None,
    account: Account | None,
    *,
    secret_ok: bool,
    client_ip: str | None,
    now_ms: int,
) -> str | None:
    """Why a key login is refused, for the audit trail only; None when it may go on."""
    if key is None or account is None or not secret_ok:
        return "api key refused"
    if not key.is_live(now_ms) or account.disabled:
        return "api key revoked, expired or disabled"
    if not _address_allowed(key, client_ip):
        return "api key not allowed from this address"
    if not _granted_scopes(account, key):
        # Every scope of the key has left its account: a token without scope would pass
        # any check that names none, so the login is refused like a wrong secret.
        return "api key has no scope left"
    return None


def _granted_scopes(account: Account, key: ApiKey) -> tuple[str, ...]:
    """The key's scopes that its account still has: a key never outranks its account."""
    return tuple(scope for scope in account.scopes if scope in key.scopes)


async def _check_api_key(
    deps: LoginDeps, credentials: Credentials, ctx: RequestContext, now_ms: int
) -> tuple[Account, ApiKey]:
    await deps.throttle.before_api_key(ctx.client_ip)
    # A mistyped key fails its checksum here and costs no lookup.
    parsed = api_keys.parse(credentials.secret)
    found = await deps.api_keys.with_account(parsed.key_id) if parsed else None
    key, account = found or (None, None)
    secret_ok = _secret_matches(deps.key_hasher, key, credentials.secret, now_ms)
    username_ok = account is not None and hmac.compare_digest(
        account.username.encode(), credentials.username.encode()
    )
    refusal = _key_refusal(
        key,
        account,
        secret_ok=secret_ok and username_ok,
        client_ip=ctx.client_ip,
        now_ms=now_ms,
    )
    if refusal is not None or key is None or account is None:
        # Counted per address only: a key's 256 random bits need no account lock, and one
        # would let anyone lock the owner's integrations out.
        await deps.throttle.api_key_failed(ctx.client_ip)
        raise InvalidCredentials(detail=refusal or "api key refused")
    return account, key


async def _check_password(
    deps: LoginDeps, credentials: Credentials, ctx: RequestContext, now_ms: int
) -> Account:
    # Reserved before the lookup: a blocked address never reaches it (429), and parallel
    # guesses cannot all slip under a limit (OWASP ASVS 2.2.1, NIST SP 800-63B 3.2.2).
    attempt = await deps.throttle.before_password(ctx.client_ip, credentials.username)
    account = await deps.accounts.by_username(credentials.username)
    capped = account is not None and (
        account.failed_password_attempts >= deps.password_max_failures
    )
    locked = attempt.locked or capped
    # A locked account is checked against the dummy hash, like an unknown user: same work,
    # same answer, and its real password is not tried.
    stored = account.password_hash if account is not None and not locked else None
    password = password_policy.normalize(credentials.secret)
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    verifying = deps.passwords.verify_async(stored, password)
    failures = 0
    if account is not None and stored is not None and not account.disabled:
        # Reserve-then-check for the persistent counter too, written while argon2 runs so
        # that a known account costs no more time than an unknown one.
        verdict, failures = await asyncio.gather(
            verifying, deps.accounts.add_failed_password_attempt(account.id)
        )
    else:
        verdict = await verifying
    if (
        account is None
        or locked
        or not verdict.valid
        or account.disabled
        or failures > deps.password_max_failures
    ):
        if account is not None and failures == deps.password_max_failures:
            # This failure reached the cap: password login stays off until a reset.
            await deps.audit.record(
                "account.password_disabled",
                "locked",
                ctx,
                username=account.username,
                account_id=account.id,
                detail={"failedPasswordAttempts": failures},
            )
        raise InvalidCredentials(detail="password locked" if locked else "password refused")
    await deps.throttle.password_succeeded(attempt)
    changes: dict[str, object] = {"failed_password_attempts": 0}
    if verdict.needs_rehash:
        # The argon2 parameters changed since this hash was made (RFC 9106 section 4).
        changes["password_hash"] = await deps.passwords.hash_async(password)
    await deps.accounts.update(account.id, now_ms, **changes)
    if "password_hash" in changes:
        await deps.audit.record(
            "account.password_rehashed", "ok", ctx, username=account.username, account_id=account.id
        )
    return account


def _narrowed(scopes: tuple[str, ...], requested: frozenset[str] | None) -> tuple[str, ...]:
    """The scopes the token carries: all those the credentials grant, or the requested few."""
    if requested is None:
        return scopes
    # RFC 6749 section 3.3: a client may ask for less, never for more.
    if not requested <= frozenset(scopes):
        raise ScopeNotGranted(detail=f"asked {sorted(requested)}, granted {list(scopes)}")
    return tuple(scope for scope in scopes if scope in requested)


def _outcome(refused: Exception) -> tuple[str, str]:
    """The audit event and outcome of a refused login."""
    if isinstance(refused, TooManyRequests):
        return "login.throttled", "throttled"
    if isinstance(refused, ScopeNotGranted):
        return "login.failed", "invalid_scope"
    if isinstance(refused, InvalidCredentials):
        return "login.failed", "refused"
    if isinstance(refused, StorageUnavailable):
        return "login.failed", "unavailable"
    return "login.failed", "error"


def _as_refusal(exc: Exception) -> XpayAuthError:
    """The error a failed login answers, made here so that its audit row names its tag."""
    if isinstance(exc, XpayAuthError):
        return exc
    if is_storage_failure(exc):
        return StorageUnavailable(detail=type(exc).__name__)
    return InternalError(detail=type(exc).__name__)


async def authenticate(
    deps: LoginDeps,
    credentials: Credentials,
    ctx: RequestContext,
    *,
    grant: str | None = None,
    requested_scopes: frozenset[str] | None = None,
) -> Login:
    """Check ``credentials`` and issue a token and its session.

    ``grant`` names the OAuth 2.0 grant of a call to ``/oauth/token``, recorded in the
    audit trail; ``requested_scopes`` narrows the token to those scopes, which must all be
    granted by the credentials.
    """
    now = time.time()
    now_ms = int(now * 1000)
    key: ApiKey | None = None
    grant_detail = {} if grant is None else {"grant": grant}
    try:
        if credentials.is_api:
            account, key = await _check_api_key(deps, credentials, ctx, now_ms)
            scopes = _granted_scopes(account, key)
        else:
            account = await _check_password(deps, credentials, ctx, now_ms)
            scopes = account.scopes
        scopes = _narrowed(scopes, requested_scopes)
    except Exception as failed:
        # Every refusal is recorded, whatever caused it: a wrong secret, a throttle, or a
        # store that could not answer (503) all leave a row an operator can find.
        refused = _as_refusal(failed)
        event, outcome = _outcome(refused)
        parsed = api_keys.parse(credentials.secret)
        await deps.audit.record(
            event,
            outcome,
            ctx,
            username=credentials.username,
            key_id=parsed.key_id if parsed is not None else None,
            error_tag=refused.tag,
            # The coarse reason (refused, locked, throttled) is for operators only.
            detail={"isAPI": credentials.is_api, **grant_detail, "reason": refused.detail},
        )
        if refused is failed:
            raise
        raise refused from failed
    # A token must be issued after any "revoke everything before" mark on its account.
    issued_at = max(int(now), (account.tokens_not_after_s or 0) + 1)
    expires_at = issued_at + deps.token_ttl
    if key is not None and key.expires_at_ms is not None:
        expires_at = min(expires_at, key.expires_at_ms // 1000)
    ticket = new_ticket()
    token = deps.issuer.issue(
        subject=account.id,
        username=account.username,
        scopes=scopes,
        ticket=ticket,
        client_id=key.id if key is not None else DASHBOARD_CLIENT_ID,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    session = Session(
        ticket=ticket,
        account_id=account.id,
        api_key_id=key.id if key else None,
        is_api=key is not None,
        scopes=scopes,
        created_at_ms=now_ms,
        expires_at_ms=expires_at * 1000,
        client_ip=ctx.client_ip,
        issued_at_s=issued_at,
    )
    succeeded = deps.audit.row(
        "login.succeeded",
        "ok",
        ctx,
        username=credentials.username,
        account_id=account.id,
        key_id=key.id if key else None,
        ticket=ticket,
        detail={"isAPI": credentials.is_api, **grant_detail},
    )
    # The token is handed out only once its session and audit event are committed: a
    # crash after this answer loses neither.
    await deps.committer.commit(
        sessions=[session],
        audit=[succeeded],
        key_use={key.id: now_ms} if key is not None else None,
    )
    return Login(
        username=account.username,
        scopes=scopes,
        is_api=key is not None,
        ticket=ticket,
        access_token=token,
        expires_at_ms=expires_at * 1000,
    )
