"""The account behind a verified bearer token."""

from __future__ import annotations

from xpay_auth.domain import Account
from xpay_auth.errors import Unauthorized
from xpay_auth.security.claims import AccessClaims
from xpay_auth.storage.accounts import AccountRepository


async def caller_account(accounts: AccountRepository, claims: AccessClaims) -> Account:
    """The token's account as stored now; a deleted or disabled one ends the session (401).

    Disabling revokes every session already, so this only closes the gap between a token's
    verification and the account's current state.
    """
    account = await accounts.by_id(claims.subject)
    if account is None or account.disabled:
        raise Unauthorized(detail="the token's account is gone or disabled")
    return account
