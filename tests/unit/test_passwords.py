"""Password hashing: argon2id profiles, the dummy verification, rehash on new parameters."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import warnings

import pytest
from argon2 import PasswordHasher, Type

from xpay_auth.security.passwords import PasswordHashing, Verdict
from xpay_auth.settings import Argon2Profile, Settings

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def hashing() -> PasswordHashing:
    return PasswordHashing(Argon2Profile.TESTING)


def test_production_default_is_argon2id_at_owasp_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default settings hash with argon2id, m=19456 KiB, t=2, p=1 (OWASP's minimum)."""
    for name in ("XPAY_AUTH_ARGON2_PROFILE", "XPAY_AUTH_ENV"):
        monkeypatch.delenv(name, raising=False)
    profile = Settings().argon2_profile
    encoded = PasswordHashing(profile).hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_hash_is_argon2id_and_salted(hashing: PasswordHashing) -> None:
    """Hashes are argon2id, never contain the password, and differ for the same password."""
    first, second = hashing.hash(PASSWORD), hashing.hash(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert PASSWORD not in first


def test_verify_accepts_the_password_only(hashing: PasswordHashing) -> None:
    """The right password verifies; a wrong or differently cased one does not."""
    stored = hashing.hash(PASSWORD)
    assert hashing.verify(stored, PASSWORD).valid
    assert not hashing.verify(stored, PASSWORD + "!").valid
    assert not hashing.verify(stored, PASSWORD.upper()).valid
    assert not hashing.verify(stored, "").valid


def test_missing_hash_runs_the_dummy_and_fails(hashing: PasswordHashing) -> None:
    """Without a stored hash, verification fails, even for the dummy's own password."""
    assert not hashing.verify(None, PASSWORD).valid
    assert not hashing.verify(None, "xpay-auth dummy password for timing").valid
    assert not hashing.verify("", "xpay-auth dummy password for timing").valid


def test_damaged_hash_fails_without_raising(hashing: PasswordHashing) -> None:
    """A stored value that is not an argon2 hash fails verification instead of raising."""
    assert not hashing.verify("not-a-hash", PASSWORD).valid
    assert not hashing.verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB", PASSWORD).valid


def test_needs_rehash_when_parameters_change(hashing: PasswordHashing) -> None:
    """A hash made with other parameters verifies and asks for a rehash; a current one does not."""
    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, type=Type.ID).hash(PASSWORD)
    verdict = hashing.verify(older, PASSWORD)
    assert verdict.valid
    assert verdict.needs_rehash
    current = hashing.verify(hashing.hash(PASSWORD), PASSWORD)
    assert current.valid
    assert not current.needs_rehash
    argon2i = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash(PASSWORD)
    assert hashing.verify(argon2i, PASSWORD).needs_rehash


def test_hashing_runs_off_the_loop_on_one_thread_per_core_at_most() -> None:
    """A burst of password checks shares a pool of cpu_count threads, never the loop's."""
    lock = threading.Lock()
    running: list[int] = [0, 0]  # now, most at once
    names: set[str] = set()

    class Watched(PasswordHashing):
        def verify(self, stored_hash: str | None, password: str) -> Verdict:
            with lock:
                running[0] += 1
                running[1] = max(running)
                names.add(threading.current_thread().name)
            time.sleep(0.02)
            with lock:
                running[0] -= 1
            return super().verify(stored_hash, password)

    hashing = Watched(Argon2Profile.TESTING)
    stored = hashing.hash("correct horse")

    async def burst() -> list[Verdict]:
        return await asyncio.gather(
            *(hashing.verify_async(stored, "correct horse") for _ in range(20))
        )

    assert all(verdict.valid for verdict in asyncio.run(burst()))
    cores = os.cpu_count() or 1
    assert running[1] == min(cores, 20)
    assert names
    assert all(name.startswith("argon2") for name in names)
    assert threading.main_thread().name not in names


def test_a_forked_child_hashes_on_a_pool_of_its_own() -> None:
    """The parent's pool threads do not exist in a child: it must not wait on them."""
    hashing = PasswordHashing(Argon2Profile.TESTING)
    stored = hashing.hash("correct horse")
    assert asyncio.run(hashing.verify_async(stored, "correct horse")).valid  # pool in use
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; the child only hashes.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the check completes in time
        signal.alarm(20)
        valid = asyncio.run(hashing.verify_async(stored, "correct horse")).valid
        os._exit(0 if valid else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
