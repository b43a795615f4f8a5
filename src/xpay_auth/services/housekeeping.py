"""Deleting what can no longer matter: expired sessions, spent revocations, unpublished keys."""

from __future__ import annotations

from xpay_auth.logs import log_event, now_ms
from xpay_auth.runtime import Runtime


async def purge_expired(runtime: Runtime) -> dict[str, int]:
    """Delete rows no token can depend on any more; returns the count per table."""
    now = now_ms()
    database = runtime.database
    counts = {
        "sessions": await database.sessions.purge_expired(now),
        "revocations": await database.revocations.purge_expired(now),
        "signing_keys": await database.signing_keys.delete_unpublished(now),
    }
    if any(counts.values()):
        log_event("housekeeping.purged", **counts)
    return counts
