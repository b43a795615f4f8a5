"""The success data of every client call, declared once.

Typed dicts rather than models: the views build them as plain dicts (nothing to convert
on the hot path), mypy checks every key they set, and pydantic reads the same
declarations for ``/openapi.json`` and ``docs/api.md``. Keys are the wire names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from xpay_auth.http.wire import TICKET_PATTERN

Ms = Annotated[int, Field(description="ms since the epoch")]
MaybeMs = Annotated[int | None, Field(description="ms since the epoch, or `null`")]
Ticket = Annotated[
    str,
    Field(
        pattern=TICKET_PATTERN,
        description="32 lowercase hex characters naming a session; revoking it revokes "
        "every token of the session",
    ),
]
Scopes = Annotated[list[str], Field(description="scope names")]


class User(TypedDict):
    username: Annotated[str, Field(description="the account")]
    scopes: Annotated[list[str], Field(description="the scopes this token carries")]
    isAPI: Annotated[bool, Field(description="which kind of secret was used")]


class Login(TypedDict):
    success: Annotated[Literal[True], Field(description="always `true`")]
    expiresAt: Annotated[
        int, Field(description="when the token expires (ms); equals the token's `exp` times 1000")
    ]
    user: Annotated[
        User,
        Field(
            description='`{"username", "scopes", "isAPI"}`: the account, the scopes this token '
            "carries, which kind of secret was used"
        ),
    ]
    ticket: Ticket
    access_token: Annotated[
        str,
        Field(
            description="a JWT (ES256, `typ` `at+jwt`, RFC 9068 claims), sent as "
            "`Authorization: Bearer ...`"
        ),
    ]


class SessionInfo(TypedDict):
    user: User
    ticket: Ticket
    keyId: Annotated[str | None, Field(description="the key of an API-key session, else `null`")]
    issuedAt: Ms
    expiresAt: Ms


class LoggedOut(TypedDict):
    ticket: Ticket
    revoked: Literal[True]


class ApiKey(TypedDict):
    id: Annotated[str, Field(description="16 hex characters, the key's public id")]
    name: Annotated[str, Field(description="the label given at creation")]
    prefix: Annotated[str, Field(description="`xpsk_<id>`: how the secret starts, safe to show")]
    scopes: Annotated[list[str], Field(description="the key's scopes, a subset of the account's")]
    status: Annotated[
        Literal["active", "expired", "revoked"],
        Field(description="`active`, `expired` or `revoked`"),
    ]
    createdAt: Ms
    expiresAt: Annotated[int | None, Field(description="ms, or `null` for no expiry")]
    revokedAt: MaybeMs
    lastUsedAt: Annotated[
        int | None,
        Field(
            description="the last login with the key (ms), or `null`; recorded off the request "
            "path, at most once a minute per key, so it may lag by up to a minute"
        ),
    ]
    allowedCidrs: Annotated[
        list[str], Field(description="the networks the key may log in from; `[]` means anywhere")
    ]
    previousSecretExpiresAt: Annotated[
        int | None,
        Field(
            description="after a rotation, until when the previous secret still works (ms); "
            "`null` outside a grace period"
        ),
    ]


class IssuedApiKey(ApiKey):
    secretKey: Annotated[str, Field(pattern="^xpsk_", description="the secret, shown this once")]


class OwnedApiKey(ApiKey):
    accountId: Annotated[str, Field(description="the account the key belongs to")]


class PasswordChanged(TypedDict):
    changed: bool
    otherSessionsRevoked: bool


class SessionSummary(TypedDict):
    ticket: Ticket
    createdAt: Ms
    expiresAt: Ms
    isAPI: Annotated[bool, Field(description="true for an API-key session")]
    keyId: Annotated[str | None, Field(description="the key of an API-key session, else `null`")]
    scopes: Annotated[list[str], Field(description="the scopes its tokens carry")]
    clientIp: Annotated[str | None, Field(description="the address it logged in from")]
    current: Annotated[bool, Field(description="true for the session making this call")]


class SessionRevoked(TypedDict):
    ticket: Ticket
    revoked: bool
    current: Annotated[bool, Field(description="true when the caller ended its own session")]


class Account(TypedDict):
    id: Annotated[str, Field(description="the account id")]
    username: Annotated[str, Field(description="trimmed and lower-cased")]
    scopes: Annotated[list[str], Field(description="the account's scopes")]
    disabled: Annotated[bool, Field(description="a disabled account cannot log in")]
    hasPassword: Annotated[bool, Field(description="whether a password login is possible")]
    failedPasswordAttempts: Annotated[
        int,
        Field(
            ge=0,
            description="consecutive wrong passwords; at `XPAY_AUTH_PASSWORD_MAX_FAILURES` "
            "password login is disabled until a success or an unlock",
        ),
    ]
    createdAt: Ms


class TicketRevoked(TypedDict):
    ticket: Ticket
    revoked: Literal[True]


class UserSessionsRevoked(TypedDict):
    username: str
    revoked: Literal[True]


class AuditEvent(TypedDict):
    id: int
    at: Ms
    event: Annotated[str, Field(examples=["login.failed"])]
    outcome: Annotated[str, Field(examples=["ok", "refused", "invalid_request"])]
    username: str | None
    accountId: str | None
    keyId: str | None
    ticket: str | None
    clientIp: str | None
    requestUuid: str | None
    errorTag: str | None
    actor: Annotated[str | None, Field(description="the operator or user who made the change")]
    detail: dict[str, object] | None
