"""``/client/password/change``: a person proves the current password and sets a new one.

The new password follows the policy of :mod:`xpay_auth.security.password_policy`. Every
other session of the account ends at once, API-key sessions included (OWASP ASVS 4.0.3
V3.3.3: other sessions end after a password change); the session that made the change
stays, so the person is not logged out mid-action. API keys themselves keep working: they
are separate credentials, revoked on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.domain import Account
from xpay_auth.errors import InvalidField, TooManyRequests
from xpay_auth.logs import log_event, now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.security import password_policy
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.services.accounts import hash_new_password
from xpay_auth.services.revocations import RevocationDeps, change_and_revoke_account
from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.throttling.throttle import Throttle


@dataclass(frozen=True, slots=True)
class PasswordChangeDeps:
    """What a password change reads and writes: a login's checks, then a revocation."""

    accounts: AccountRepository
    throttle: Throttle
    passwords: PasswordHashing
    audit: AuditTrail
    revocation: RevocationDeps  # the other sessions end with the change
    password_max_failures: int


async def _check_current_password(
    deps: PasswordChangeDeps, account: Account, current_password: str, ctx: RequestContext
) -> bool:
    """Whether ``current_password`` is the account's, checked under the login's limits.

    A wrong current password counts towards the same limits as a wrong login password
    (NIST SP 800-63B section 3.2.2), so a stolen session cannot guess it without limit. The
    attempt is reserved before the hash is read, as a login's is: the address and the
    (account, address) back-off first (429 past the address limit), then one slot under
    the consecutive-failure cap, taken atomically in the database. Parallel guesses on one
    session therefore reach the real hash no more often than those limits allow; the rest
    are checked against the dummy hash and refused.
    """
    attempt = await deps.throttle.before_password(ctx.client_ip, account.username)
    cap = deps.password_max_failures
    failures = (
        None if attempt.locked else await deps.accounts.reserve_password_attempt(account.id, cap)
    )
    stored = account.password_hash if failures is not None else None
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    verdict = await deps.passwords.verify_async(stored, password_policy.normalize(current_password))
    if stored is not None and verdict.valid:
        await deps.throttle.password_succeeded(attempt)
        await deps.accounts.update(account.id, now_ms(), failed_password_attempts=0)
        return True
    if failures == cap:
        # This failure reached the cap: password login stays off until a reset.
        await deps.audit.record(
            "account.password_disabled",
            "locked",
            ctx,
            username=account.username,
            account_id=account.id,
            detail={"failedPasswordAttempts": failures},
        )
    return False


async def change_password(
    deps: PasswordChangeDeps,
    account: Account,
    *,
    current_password: str,
    new_password: str,
    current_ticket: str,
    ctx: RequestContext,
) -> None:
    try:
        matches = await _check_current_password(deps, account, current_password, ctx)
    except TooManyRequests as throttled:
        await deps.audit.record(
            "password.change_failed",
            "throttled",
            ctx,
            username=account.username,
            account_id=account.id,
            ticket=current_ticket,
            error_tag=throttled.tag,
        )
        raise
    if not matches:
        refused = InvalidField("currentPassword", "does not match")
        await deps.audit.record(
            "password.change_failed",
            "refused",
            ctx,
            username=account.username,
            account_id=account.id,
            ticket=current_ticket,
            error_tag=refused.tag,
        )
        raise refused
    normalized = password_policy.normalize(new_password)
    if normalized == password_policy.normalize(current_password):
        raise InvalidField("newPassword", "must differ from the current password")
    try:
        new_hash = await hash_new_password(deps.passwords, new_password, account.username)
    except InvalidField as weak:
        raise InvalidField("newPassword", weak.reason) from weak
    # The new hash and the end of the other sessions commit together.
    await change_and_revoke_account(
        deps.revocation,
        account.id,
        {"password_hash": new_hash, "failed_password_attempts": 0},
        except_ticket=current_ticket,
    )
    await deps.audit.record(
        "password.changed",
        "ok",
        ctx,
        username=account.username,
        account_id=account.id,
        ticket=current_ticket,
    )
    log_event("password.changed", account_id=account.id)
