"""New passwords: length rules, no composition rules, and the shipped common-password list."""

from __future__ import annotations

from importlib import resources

import pytest

from xpay_auth.security import password_policy
from xpay_auth.security.password_policy import WeakPassword, check, common_passwords

USER = "dana@example.com"


@pytest.mark.parametrize(
    "password",
    [
        "password12345678",
        "PASSWORD12345678",
        "qwertyuiopasdfgh",
        "QwErTyUiOpAsDfGh",
        "123456789012345",
        "1q2w3e4r5t6y7u8i",
        "iloveyou123456789",
        "correcthorsebatterystaple",
    ],
)
def test_listed_passwords_are_refused_whatever_their_case(password: str) -> None:
    """A password on the shipped list is refused, compared case-insensitively, with a reason."""
    with pytest.raises(WeakPassword, match="too common"):
        check(password, USER)


@pytest.mark.parametrize(
    "password", ["!!Monkey2024!!!!", "Sunshine@2025!!!!", "2024dragon2024dragon", "9999letmein9999"]
)
def test_a_listed_word_with_digits_and_symbols_added_is_refused(password: str) -> None:
    """Padding a common password with digits or symbols to reach the length does not pass."""
    with pytest.raises(WeakPassword, match="common password"):
        check(password, USER)


def test_repeats_of_a_listed_word_and_of_few_characters_are_refused() -> None:
    """A listed word said three times, or a password of four characters repeated, is refused."""
    with pytest.raises(WeakPassword, match="common"):
        check("FootballFootballFootball", USER)
    with pytest.raises(WeakPassword, match="different characters"):
        check("abcdabcdabcdabcddcba", USER)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple 42",
        "a brand new passphrase for the matrix",
        "only lowercase letters here",
        "Tr0ub4dor&3 plus a long tail",
        "x" * 4 + "this is fine too",
    ],
)
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    """Length decides: a long passphrase passes with no digits, capitals or symbols required."""
    check(password, USER)


def test_length_bounds_are_15_and_256() -> None:
    """15 characters pass and 14 do not; 256 pass and 257 do not, and nothing is truncated."""
    check("plum tree w1ndy", USER)
    with pytest.raises(WeakPassword, match="at least 15"):
        check("plum tree w1nd", USER)
    long_one = "".join(chr(0x4E00 + n) for n in range(256))
    check(long_one, USER)
    with pytest.raises(WeakPassword, match="at most 256"):
        check(long_one + "z", USER)


def test_passwords_containing_the_username_are_refused() -> None:
    """The username's local part inside the password, in any case, is refused."""
    with pytest.raises(WeakPassword, match="username"):
        check("my name is DANA and I like tea", USER)


def test_the_list_ships_inside_the_package_and_is_read_once() -> None:
    """The list is a package data file of thousands of folded entries, loaded on first use."""
    data = resources.files("xpay_auth.security").joinpath("data", "common-passwords.txt")
    assert data.is_file()
    password_policy.common_passwords.cache_clear()
    first = common_passwords()
    assert common_passwords() is first
    assert common_passwords.cache_info().misses == 1
    assert len(first) > 5000
    assert sum(len(entry) >= password_policy.MIN_LENGTH for entry in first) > 5000
    assert all(entry == entry.strip().casefold() for entry in first)
