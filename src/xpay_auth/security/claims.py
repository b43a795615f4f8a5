"""The claims of a verified access token, as every place that trusts one reads them."""

from __future__ import annotations

from dataclasses import dataclass

# The ``client_id`` of a token from a password login: not an API key's id.
DASHBOARD_CLIENT_ID = "xpay-dashboard"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    username: str
    scopes: tuple[str, ...]
    ticket: str
    client_id: str
    token_id: str
    issued_at: int
    expires_at: int

    @property
    def is_api(self) -> bool:
        return self.client_id != DASHBOARD_CLIENT_ID

    @property
    def key_id(self) -> str | None:
        return None if self.client_id == DASHBOARD_CLIENT_ID else self.client_id
