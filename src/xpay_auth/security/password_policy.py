"""What a new password must be (NIST SP 800-63B rev. 4, section 3.1.1.2).

Length is what counts: at least 15 characters for single-factor use, up to 256 allowed and
hashed whole, no composition rules. Refused, with the reason: a password that contains the
username, that is on the shipped list of common and breached passwords
(``data/common-passwords.txt``, compared case-insensitively), that is a listed word with
only digits or symbols around it or repeated, or that repeats too few characters.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from importlib import resources

MIN_LENGTH = 15
MAX_LENGTH = 256
# "aaaaaaaaaaaaaaa" or "121212121212121": repetitive passwords are refused (NIST SP
# 800-63B section 3.1.1.2 names them beside breached ones).
MIN_DISTINCT_CHARACTERS = 5
COMMON_PASSWORDS_FILE = "common-passwords.txt"
# What people add around a word to pass a length rule: "password12345678", "!!monkey2024!!".
_DECORATION = string.digits + string.punctuation + string.whitespace


class WeakPassword(ValueError):
    """The password is refused; the message is the reason, safe to show the user."""


def normalize(password: str) -> str:
    # NIST SP 800-63B: apply NFKC so the same password typed on two keyboards matches.
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, read on first use and kept for the life of the process."""
    data = resources.files(__package__).joinpath("data", COMMON_PASSWORDS_FILE)
    lines = data.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def _repeated_unit(text: str) -> str:
    """The shortest string that ``text`` repeats: "abcabcabc" gives "abc"."""
    size = len(text)
    for width in range(1, size // 2 + 1):
        if size % width == 0 and text[:width] * (size // width) == text:
            return text[:width]
    return text


def common_reason(password: str) -> str | None:
    """Why the password is too common to accept, or None."""
    folded = password.casefold()
    listed = common_passwords()
    if folded in listed:
        return "is too common: it is on a list of breached passwords"
    core = folded.strip(_DECORATION)
    unit = _repeated_unit(folded)
    derived = {core, _repeated_unit(core), unit, unit.strip(_DECORATION)} - {""}
    if derived & listed:
        return "is a common password with digits or symbols added, or repeated"
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        return f"must use at least {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def check(password: str, username: str) -> None:
    length = len(password)
    if length < MIN_LENGTH:
        raise WeakPassword(f"must be at least {MIN_LENGTH} characters")
    if length > MAX_LENGTH:
        raise WeakPassword(f"must be at most {MAX_LENGTH} characters")
    if "\x00" in password:
        raise WeakPassword("must not contain NUL characters")
    lowered = password.casefold()
    local_part = username.split("@", 1)[0].casefold()
    if local_part and len(local_part) >= 3 and local_part in lowered:  # noqa: PLR2004
        raise WeakPassword("must not contain the username")
    reason = common_reason(password)
    if reason is not None:
        raise WeakPassword(reason)
