"""API keys: issued by the service, shown once, stored as a keyed hash."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.domain import Account, ApiKey
from xpay_auth.errors import InvalidField, NotFound
from xpay_auth.logs import log_event, now_ms
from xpay_auth.request_context import RequestContext
from xpay_auth.security import api_keys
from xpay_auth.security.api_keys import KeyHasher
from xpay_auth.services.accounts import check_scopes
from xpay_auth.services.revocations import RevocationDeps, keep_until
from xpay_auth.storage.api_keys import ApiKeyRepository
from xpay_auth.storage.rows import Page

MAX_NAME_LENGTH = 100
MAX_EXPIRY_DAYS = 3650
MAX_CIDRS = 32
DAY_MS = 86_400_000
# How long a rotated-out secret keeps working: a day by default, a week at most, so a
# forgotten rotation cannot leave a leaked secret alive for long.
DEFAULT_GRACE_SECONDS = 86_400
MAX_GRACE_SECONDS = 7 * 86_400


class KeySort(StrEnum):
    """The fields a key listing may be ordered on."""

    CREATED = "created_at_ms"
    NAME = "name"
    EXPIRES = "expires_at_ms"
    LAST_USED = "last_used_at_ms"


@dataclass(frozen=True, slots=True)
class KeyDeps:
    """What issuing, rotating and revoking API keys reads and writes."""

    api_keys: ApiKeyRepository
    key_hasher: KeyHasher
    audit: AuditTrail
    revocation: RevocationDeps  # how long a revoked key's entry must be kept


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown to the caller once, never stored


def check_cidrs(raw: Iterable[str]) -> tuple[str, ...]:
    cidrs = tuple(raw)
    if len(cidrs) > MAX_CIDRS:
        raise InvalidField("allowedCidrs", f"at most {MAX_CIDRS} networks")
    try:
        return tuple(str(ipaddress.ip_network(cidr, strict=False)) for cidr in cidrs)
    except ValueError as exc:
        raise InvalidField("allowedCidrs", "each must be an address or network") from exc


async def create_key(
    deps: KeyDeps,
    account: Account,
    *,
    name: str = "",
    scopes: Iterable[str] | None = None,
    expires_in_days: int | None = None,
    allowed_cidrs: Iterable[str] = (),
    ctx: RequestContext | None = None,
) -> IssuedKey:
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidField("name", f"must be printable, at most {MAX_NAME_LENGTH} characters")
    # A key never carries a scope its account lacks.
    key_scopes = (
        check_scopes(scopes, allowed=account.scopes) if scopes is not None else account.scopes
    )
    if not key_scopes:
        raise InvalidField("scopes", "must name at least one scope")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidField("expiresInDays", f"must be 1 to {MAX_EXPIRY_DAYS}")
    now = now_ms()
    generated = api_keys.generate()
    key = ApiKey(
        id=generated.key_id,
        account_id=account.id,
        name=name,
        scopes=key_scopes,
        secret_hash=deps.key_hasher.digest(generated.secret),
        created_at_ms=now,
        expires_at_ms=now + expires_in_days * DAY_MS if expires_in_days else None,
        allowed_cidrs=check_cidrs(allowed_cidrs),
    )
    await deps.api_keys.create(key)
    await deps.audit.record(
        "key.created", "ok", ctx, username=account.username, account_id=account.id, key_id=key.id
    )
    log_event("key.created", key_id=key.id, account_id=account.id)
    return IssuedKey(key, generated.secret)


async def list_keys(
    keys: ApiKeyRepository,
    account: Account,
    *,
    offset: int = 0,
    limit: int = 100,
    newest_first: bool = True,
    sort: KeySort = KeySort.CREATED,
) -> Page[ApiKey]:
    """The account's keys, revoked ones included; ``newest_first`` means descending."""
    return await keys.for_account(
        account.id, offset=offset, limit=limit, newest_first=newest_first, sort=sort.value
    )


async def require_key(
    keys: ApiKeyRepository, key_id: str, *, account: Account | None = None
) -> ApiKey:
    """The key, which must belong to ``account`` when given (others look absent)."""
    key = await keys.by_id(key_id) if len(key_id) <= 64 else None  # noqa: PLR2004
    if key is None or (account is not None and key.account_id != account.id):
        raise NotFound({"id": key_id[:64]}, message="no such key")
    return key


async def revoke_key(deps: KeyDeps, key: ApiKey, ctx: RequestContext | None = None) -> bool:
    """Stop the key and every session opened with it, at once; False if nothing changed.

    The key and its revocation entry commit together. Revoking a revoked key stores
    nothing and records nothing; one whose entry is missing gets it.
    """
    now = now_ms()
    changed = await deps.api_keys.revoke_with_entry(
        key.id, now, keep_until_ms=await keep_until(deps.revocation, now, key_id=key.id)
    )
    if changed:
        await deps.audit.record("key.revoked", "ok", ctx, account_id=key.account_id, key_id=key.id)
        log_event("key.revoked", key_id=key.id)
    return changed


async def rotate_key(
    deps: KeyDeps, key: ApiKey, *, grace_seconds: int, ctx: RequestContext | None = None
) -> IssuedKey:
    """A new secret for the same key id; the old secret works ``grace_seconds`` longer.

    A secret still in an earlier rotation's grace period stops at once: only the secret
    being replaced keeps a grace period.
    """
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidField("graceSeconds", f"must be between 0 and {MAX_GRACE_SECONDS}")
    now = now_ms()
    if not key.is_live(now):
        raise NotFound({"id": key.id}, message="no such key")
    generated = api_keys.generate(key.id)
    new_hash = deps.key_hasher.digest(generated.secret)
    rotated = await deps.api_keys.rotate(
        key.id,
        secret_hash=new_hash,
        previous_hash=key.secret_hash,
        previous_expires_at_ms=now + grace_seconds * 1000,
    )
    if not rotated:
        raise InvalidField("id", "the key was rotated concurrently; try again")
    await deps.audit.record(
        "key.rotated",
        "ok",
        ctx,
        account_id=key.account_id,
        key_id=key.id,
        detail={"graceSeconds": grace_seconds},
    )
    log_event("key.rotated", key_id=key.id, grace_seconds=grace_seconds)
    updated = await require_key(deps.api_keys, key.id)
    return IssuedKey(updated, generated.secret)
