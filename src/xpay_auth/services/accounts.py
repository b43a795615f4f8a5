"""Accounts: creation, listing, disabling."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.domain import KNOWN_SCOPES, Account, Scope, normalize_username
from xpay_auth.errors import InvalidField, NotFound
from xpay_auth.logs import log_event, now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.security import password_policy
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.services.revocations import RevocationDeps, change_and_revoke_account
from xpay_auth.storage.accounts import AccountRepository
from xpay_auth.storage.rows import AlreadyExists, Page

MAX_USERNAME_LENGTH = 320


@dataclass(frozen=True, slots=True)
class AccountDeps:
    """What creating, changing and disabling accounts reads and writes."""

    accounts: AccountRepository
    passwords: PasswordHashing
    audit: AuditTrail
    revocation: RevocationDeps  # disabling or narrowing an account revokes its tokens


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(8)


def check_username(raw: str) -> str:
    username = normalize_username(raw)
    if not username or len(username) > MAX_USERNAME_LENGTH:
        raise InvalidField("username", f"must be 1 to {MAX_USERNAME_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in username):
        raise InvalidField("username", "must not contain spaces or control characters")
    return username


def check_scopes(raw: Iterable[str], *, allowed: Iterable[str] = KNOWN_SCOPES) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(raw))
    allowed_set = frozenset(allowed)
    unknown = [scope for scope in scopes if scope not in allowed_set]
    if unknown:
        raise InvalidField("scopes", f"not allowed here: {', '.join(sorted(unknown))[:200]}")
    return scopes


async def hash_new_password(passwords: PasswordHashing, password: str, username: str) -> str:
    password = password_policy.normalize(password)
    try:
        password_policy.check(password, username)
    except password_policy.WeakPassword as exc:
        raise InvalidField("password", str(exc)) from exc
    return await passwords.hash_async(password)


async def create_account(
    deps: AccountDeps,
    username: str,
    *,
    scopes: Iterable[str] = (Scope.USER.value,),
    password: str | None = None,
    ctx: RequestContext | None = None,
) -> Account:
    username = check_username(username)
    checked_scopes = check_scopes(scopes) or (Scope.USER.value,)
    password_hash = (
        await hash_new_password(deps.passwords, password, username) if password else None
    )
    account = Account(
        id=new_account_id(),
        username=username,
        scopes=checked_scopes,
        password_hash=password_hash,
        disabled=False,
        created_at_ms=now_ms(),
    )
    try:
        await deps.accounts.create(account)
    except AlreadyExists as exc:
        raise InvalidField("username", "is taken") from exc
    await deps.audit.record("account.created", "ok", ctx, username=username, account_id=account.id)
    log_event("account.created", account_id=account.id)
    return account


async def require_account(accounts: AccountRepository, username: str) -> Account:
    account = await accounts.by_username(normalize_username(username))
    if account is None:
        raise NotFound({"username": username[:MAX_USERNAME_LENGTH]}, message="no such account")
    return account


async def search_accounts(
    accounts: AccountRepository, *, query: str | None = None, offset: int = 0, limit: int = 100
) -> Page[Account]:
    return await accounts.search(query=query, offset=offset, limit=limit)


async def set_disabled(
    deps: AccountDeps, account: Account, *, disabled: bool, ctx: RequestContext | None = None
) -> None:
    """Disabling revokes the account's sessions and API keys at once."""
    if disabled:
        # The flag, the account's mark and every key's revocation commit together.
        await change_and_revoke_account(
            deps.revocation, account.id, {"disabled": True}, with_keys=True
        )
    else:
        await deps.accounts.update(account.id, now_ms(), disabled=False)
    event = "account.disabled" if disabled else "account.enabled"
    await deps.audit.record(event, "ok", ctx, username=account.username, account_id=account.id)
    log_event(event, account_id=account.id)
