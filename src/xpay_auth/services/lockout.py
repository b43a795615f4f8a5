"""An operator's reset of an account's password lock.

After ``password_max_failures`` consecutive wrong passwords (at most 100, NIST SP 800-63B
section 3.2.2) password login stays disabled until the owner succeeds or an operator resets
it here. The reset also forgets the short-lived throttle counters where they are shared
(Redis); without Redis they live in each server's memory and expire on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.domain import Account
from xpay_auth.logs import log_event, now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.throttling.throttle import Throttle


@dataclass(frozen=True, slots=True)
class LockoutDeps:
    accounts: AccountRepository
    throttle: Throttle
    audit: AuditTrail


async def unlock_password(
    deps: LockoutDeps, account: Account, ctx: RequestContext | None = None
) -> None:
    """Clear the account's failed-password counter and its throttle counters."""
    await deps.accounts.update(account.id, now_ms(), failed_password_attempts=0)
    await deps.throttle.unlock(account.username)
    await deps.audit.record(
        "account.unlocked",
        "ok",
        ctx,
        username=account.username,
        account_id=account.id,
        detail={"failedPasswordAttempts": account.failed_password_attempts},
    )
    log_event("account.unlocked", account_id=account.id)
