"""Deleting what can no longer matter: expired sessions, spent revocations, unpublished keys."""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.logs import log_event, now_ms
from xpay_auth.storage.revocations import RevocationRepository
from xpay_auth.storage.sessions import SessionRepository
from xpay_auth.storage.signing_keys import SigningKeyRepository


@dataclass(frozen=True, slots=True)
class HousekeepingDeps:
    sessions: SessionRepository
    revocations: RevocationRepository
    signing_keys: SigningKeyRepository


async def purge_expired(deps: HousekeepingDeps) -> dict[str, int]:
    """Delete rows no token can depend on any more; returns the count per table."""
    now = now_ms()
    counts = {
        "sessions": await deps.sessions.purge_expired(now),
        "revocations": await deps.revocations.purge_expired(now),
        "signing_keys": await deps.signing_keys.delete_unpublished(now),
    }
    if any(counts.values()):
        log_event("housekeeping.purged", **counts)
    return counts
