"""Password hashing with argon2id (RFC 9106), in named cost profiles.

Hashing is CPU- and memory-bound for tens of milliseconds, so it never runs on the event
loop: :meth:`PasswordHashing.verify_async` and :meth:`PasswordHashing.hash_async` run it on
a pool of its own, one thread per core. More at once would only share the same cores, and
each thread keeps the profile's memory (19 MiB for ``owasp``) in its allocator after its
first hash: on the general worker-thread pool (40 threads) a burst of password logins
left each server process holding hundreds of MiB.
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from xpay_auth.settings import Argon2Profile

_PROFILES: dict[Argon2Profile, dict[str, int]] = {
    # OWASP Password Storage Cheat Sheet minimum: 19 MiB, 2 passes, 1 lane.
    Argon2Profile.OWASP: {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1},
    # RFC 9106 section 4, second recommended option.
    Argon2Profile.RFC9106_LOW_MEMORY: {"memory_cost": 64 * 1024, "time_cost": 3, "parallelism": 4},
    # For test suites only: settings refuse it in production.
    Argon2Profile.TESTING: {"memory_cost": 8, "time_cost": 1, "parallelism": 1},
}


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    needs_rehash: bool = False


@functools.cache
def _hashing_threads() -> ThreadPoolExecutor:
    """Made on first use, in the process that hashes (a server's worker, not its parent)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")


# A forked child has none of its parent's threads: it makes a pool of its own.
os.register_at_fork(after_in_child=_hashing_threads.cache_clear)


class PasswordHashing:
    def __init__(self, profile: Argon2Profile) -> None:
        cost = _PROFILES[profile]
        self._hasher = PasswordHasher(
            time_cost=cost["time_cost"],
            memory_cost=cost["memory_cost"],
            parallelism=cost["parallelism"],
            type=Type.ID,
        )
        # Verified against when the account is unknown or has no password, so that such
        # attempts cost as much as a wrong password (OWASP ASVS 2.2.1, no enumeration).
        self._dummy_hash = self._hasher.hash("xpay-auth dummy password for timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> Verdict:
        """Check ``password``; a missing hash costs the same and fails."""
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(valid=False)
        if not stored_hash:
            # An empty value was checked against the dummy hash above: it must never pass.
            return Verdict(valid=False)
        return Verdict(valid=True, needs_rehash=self._hasher.check_needs_rehash(stored_hash))

    async def verify_async(self, stored_hash: str | None, password: str) -> Verdict:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_hashing_threads(), self.verify, stored_hash, password)

    async def hash_async(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            _hashing_threads(), self.hash, password
        )
