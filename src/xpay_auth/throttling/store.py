"""What a counter store must do: the same atomic operations in memory and in Redis.

Every operation is one atomic step, so concurrent attempts (on one node or many) cannot
slip between a check and an increment. Durations are seconds; addresses are already keys
(see ``policy.address_key``) and usernames already normalized.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from xpay_auth.throttling.policy import ThrottlePolicy


class Outcome(Enum):
    ALLOWED = "allowed"  # counted: go on and check the secret
    ADDRESS_BLOCKED = "address_blocked"  # nothing counted: answer 429
    LOCKED = "locked"  # counted against the address only: refuse like a wrong password


@dataclass(frozen=True, slots=True)
class Reservation:
    outcome: Outcome
    retry_after: float = 0.0  # seconds until the block or lock ends


class CounterStore(Protocol):
    #: True when counters live outside this process and other nodes change them.
    shared: bool

    async def address_block(self, address: str, policy: ThrottlePolicy) -> float:
        """Seconds left on the address's block; 0 when it may try."""

    async def record_address_failure(self, address: str, policy: ThrottlePolicy) -> float:
        """Count one failure of the address; seconds left on its block afterwards."""

    async def reserve_password(
        self, address: str, username: str, policy: ThrottlePolicy
    ) -> Reservation:
        """In one step: refuse a blocked address; else count the attempt against the
        address, and unless the (account, address) pair or the account is locked, count it
        against both as a failure too, locking them when their back-off says so."""

    async def password_succeeded(self, address: str, username: str) -> None:
        """Give back the reservation of a successful attempt and clear the account's
        account-wide and (account, address) counters."""

    async def unlock(self, username: str) -> None:
        """Forget every password counter and lock of the account (an operator's reset)."""

    async def close(self) -> None: ...
