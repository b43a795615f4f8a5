"""What a new password must be (NIST SP 800-63B rev. 4, section 3.1.1.2).

Length is what counts: at least 15 characters for single-factor use, up to 256 allowed and
hashed whole, no composition rules; refused when it contains the username.
"""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 15
MAX_LENGTH = 256


class WeakPassword(ValueError):  # noqa: N818  reads as the verdict it is
    """The password is refused; the message is the reason, safe to show the user."""


def normalize(password: str) -> str:
    # NIST SP 800-63B: apply NFKC so the same password typed on two keyboards matches.
    return unicodedata.normalize("NFKC", password)


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
