"""The password-login ceiling: argon2id verifications per second, one process per worker.

A password login costs one argon2id verification of the default profile; nothing a server
does can make it cheaper, so ``bench/authenticate.py`` compares its password row with this
bound, measured on the same machine in the same run.
"""

from __future__ import annotations

import multiprocessing
import secrets
import time

from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.settings import Argon2Profile, Settings

_PASSWORD = secrets.token_urlsafe(24)


def default_profile() -> Argon2Profile:
    default = Settings.model_fields["argon2_profile"].default
    assert isinstance(default, Argon2Profile)
    return default


def _verifications(profile: Argon2Profile, seconds: float) -> int:
    hashing = PasswordHashing(profile)
    stored = hashing.hash(_PASSWORD)
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert hashing.verify(stored, _PASSWORD).valid
        count += 1
    return count


def verifications_per_second(processes: int, seconds: float) -> float:
    """Verifications per second of ``processes`` processes hashing side by side."""
    profile = default_profile()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        counts = pool.starmap(_verifications, [(profile, seconds)] * processes)
    return sum(counts) / seconds
