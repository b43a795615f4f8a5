"""Key hygiene: a mistyped API key is refused before any lookup; weak passwords never get in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from xpay_auth.errors import InvalidField
from xpay_auth.security import api_keys
from xpay_auth.services import accounts

if TYPE_CHECKING:
    from tests.support import Harness
    from xpay_auth.runtime import Runtime


def _typos(secret: str) -> list[str]:
    body_end = len(secret) - api_keys.CHECKSUM_CHARS
    flipped = secret[:30] + ("A" if secret[30] != "A" else "B") + secret[31:]
    swapped = secret[:40] + secret[41] + secret[40] + secret[42:]
    return [
        flipped,
        swapped if swapped != secret else flipped,
        secret[:-1],
        secret + "x",
        secret[:body_end] + "000000",
        "xpsk-" + secret[5:],
        secret.upper(),
    ]


def test_a_mistyped_key_is_refused_without_any_lookup(harness: Harness) -> None:
    """Keys failing their checksum or shape are refused before the database is read."""
    harness.create_user("typo@example.com")
    _, secret = harness.create_key("typo@example.com")
    repository = harness.runtime.database.api_keys
    original = repository.with_account
    lookups: list[str] = []

    async def counting(key_id: str) -> Any:
        lookups.append(key_id)
        return await original(key_id)

    repository.with_account = counting  # type: ignore[method-assign]
    for typo in _typos(secret):
        response = harness.post(
            "/client/authenticate",
            {"username": "typo@example.com", "secretKey": typo, "isAPI": True},
        )
        assert response.json()["error"]["message"] == "invalid credentials"
    assert lookups == []
    harness.login("typo@example.com", secret)
    assert len(lookups) == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password12345678", "too common"),
        ("Qwertyuiopasdfgh", "too common"),
        ("Liverpool2024!!!!", "common password"),
    ],
)
def test_accounts_cannot_be_given_common_passwords(
    harness: Harness, password: str, reason: str
) -> None:
    """Creating an account with a common password fails on the password field, saying why."""

    async def create(runtime: Runtime) -> None:
        await accounts.create_account(
            runtime.services.accounts, "weak@example.com", password=password
        )

    with pytest.raises(InvalidField) as refused:
        harness.run(create)
    assert refused.value.field == "password"
    assert reason in refused.value.reason
