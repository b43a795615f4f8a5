"""Password hashing with argon2id (RFC 9106), in named cost profiles.

Hashing is CPU- and memory-bound for tens of milliseconds, so callers run it in a worker
thread (see ``services.authenticate``), never on the event loop.
"""

from __future__ import annotations

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
