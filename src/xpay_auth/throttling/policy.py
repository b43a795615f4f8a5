"""The numbers behind throttling, and how a client address becomes a counter key.

Two layers (OWASP ASVS 2.2.1, NIST SP 800-63B rev. 4 section 3.2.2):

- per client address, across all accounts and both kinds of secret, a fixed window: past
  ``limit`` failures within ``window`` seconds the address is refused for ``lockout``
  seconds, before any lookup or secret check;
- per account, for passwords only, an exponential back-off counted per (account, address)
  first, with an account-wide backstop whose threshold one address alone cannot reach.

The consecutive-failure cap of NIST SP 800-63B (at most 100) is not here: it is a column of
the account, so it survives restarts without Redis (see ``services.authenticate``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

# IPv6 hands every subscriber at least a /64: counting single addresses would let one
# client rotate through 2**64 of them.
IPV6_PREFIX = 64
UNKNOWN_ADDRESS = "unknown"
# 2**40 seconds outlasts any cap; bounding the exponent keeps the arithmetic small.
_MAX_EXPONENT = 40


@dataclass(frozen=True, slots=True)
class WindowRule:
    """At most ``limit`` failures per ``window`` seconds; reaching it refuses for ``lockout``."""

    limit: int = 20
    window: float = 60.0
    lockout: float = 300.0


@dataclass(frozen=True, slots=True)
class BackoffRule:
    """``free`` failures pass; from then on each failure locks for a doubling time."""

    free: int
    base: float  # the first lock, in seconds
    cap: float  # the longest lock, in seconds
    memory: float  # failures are forgotten after this long without a new one

    def lock_after(self, failures: int) -> float:
        """How long the ``failures``-th consecutive failure locks, in seconds (0: no lock)."""
        if failures < self.free:
            return 0.0
        exponent = min(failures - self.free, _MAX_EXPONENT)
        return float(min(self.cap, self.base * 2**exponent))


def _pair_rule() -> BackoffRule:
    # One address: 5 tries, then 1, 2, 4 ... minutes, at most one try an hour; about 11
    # tries in the first hour and 24 a day after that.
    return BackoffRule(free=5, base=60.0, cap=3600.0, memory=86400.0)


def _account_rule() -> BackoffRule:
    # Every address together: 50 tries (out of one address's reach in an hour), then
    # 30 s doubling to 15 minutes, so a distributed attack keeps the owner out of password
    # login for minutes at a time, never hours, while guessing slows to 4 tries an hour.
    return BackoffRule(free=50, base=30.0, cap=900.0, memory=3600.0)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    address: WindowRule = field(default_factory=WindowRule)
    pair: BackoffRule = field(default_factory=_pair_rule)
    account: BackoffRule = field(default_factory=_account_rule)


def address_key(client_ip: str | None) -> str:
    """The counter key of a client address: IPv4 as is, IPv6 as its /64 network."""
    if not client_ip:
        return UNKNOWN_ADDRESS
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)
