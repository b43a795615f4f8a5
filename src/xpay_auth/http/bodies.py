"""The request body of every client call, declared once with every limit it has.

Fields are declared in the order they are checked, so a body with several bad fields is
answered about the same one as always. Rules that need the database (a scope the account
lacks, a taken username, the password policy) stay in the services.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from xpay_auth.domain import KNOWN_SCOPES
from xpay_auth.http.paging import DEFAULT_PAGE_SIZE, PageNumber, PageSize
from xpay_auth.http.wire import (
    Body,
    Flag,
    Ticket,
    at_most,
    between,
    item,
    not_blank,
    one_of,
    refuse,
    text,
)
from xpay_auth.security.api_keys import MAX_SECRET_LENGTH
from xpay_auth.security.password_policy import MAX_LENGTH as MAX_PASSWORD_LENGTH
from xpay_auth.services.accounts import MAX_USERNAME_LENGTH
from xpay_auth.services.api_keys import (
    DEFAULT_GRACE_SECONDS,
    MAX_CIDRS,
    MAX_EXPIRY_DAYS,
    MAX_GRACE_SECONDS,
    MAX_NAME_LENGTH,
)

# Room for surrounding spaces around the longest username; the service checks the rest.
USERNAME_TEXT = MAX_USERNAME_LENGTH + 64
# Room for any password the policy accepts, measured before NFKC normalisation.
PASSWORD_TEXT = MAX_PASSWORD_LENGTH * 4
# Long enough for any password or key we accept; longer input is refused before any work.
SECRET_TEXT = max(PASSWORD_TEXT, MAX_SECRET_LENGTH)
KEY_ID_TEXT = 64
CIDR_TEXT = 64
SCOPE_TEXT = 100
MAX_SCOPES = 32
# The last millisecond of the year 9999: any later bound is a typing error, not a query.
MAX_TIME_MS = 253_402_300_799_999
# The wire names of the key sort fields; a leading "-" orders descending.
KEY_SORT_FIELDS = ("createdAt", "name", "expiresAt", "lastUsedAt")
KEY_SORTS = tuple(choice for name in KEY_SORT_FIELDS for choice in (name, f"-{name}"))
DEFAULT_KEY_SORT = "-createdAt"
_SCOPE_NAMES = ", ".join(sorted(KNOWN_SCOPES))

Username = Annotated[str, text(USERNAME_TEXT)]
Scopes = Annotated[list[Annotated[str, item(SCOPE_TEXT)]], at_most(MAX_SCOPES)]
KeyId = Annotated[str, text(KEY_ID_TEXT), Field(description="the key's id")]
Password = Annotated[str, text(PASSWORD_TEXT)]
Millis = Annotated[int, between(0, MAX_TIME_MS), Field(description="ms since the epoch")]


class Empty(Body):
    """No fields: the call takes none, or ``{}``."""


class Authenticate(Body):
    username: Annotated[
        Username, Field(description="surrounding spaces ignored, compared case-insensitively")
    ]
    secret_key: Annotated[
        str,
        text(SECRET_TEXT),
        Field(
            alias="secretKey",
            description="the API secret key with `isAPI` true, the password with `isAPI` false",
        ),
    ]
    is_api: Annotated[Flag, Field(alias="isAPI", description="which kind of secret is sent")]


class PasswordChange(Body):
    current_password: Annotated[Password, Field(alias="currentPassword")]
    new_password: Annotated[
        Password,
        Field(
            alias="newPassword",
            description=(
                f"15 to {MAX_PASSWORD_LENGTH} characters, not containing the username, not a "
                "common password, different from the current one"
            ),
        ),
    ]


class Paged(Body):
    page: PageNumber = 1
    page_size: Annotated[PageSize, Field(alias="pageSize")] = DEFAULT_PAGE_SIZE


class SessionSearch(Paged):
    """Paging only."""


class OwnSessionRevoke(Body):
    ticket: Ticket


class KeyCreate(Body):
    name: Annotated[
        str,
        text(MAX_NAME_LENGTH),
        AfterValidator(not_blank),
        Field(description="a label; surrounding spaces are dropped, printable characters only"),
    ]
    scopes: Annotated[
        Scopes | None,
        Field(description="default the account's scopes; each one of the account's"),
    ] = None
    expires_in_days: Annotated[
        int | None,
        between(1, MAX_EXPIRY_DAYS),
        Field(alias="expiresInDays", description="default no expiry"),
    ] = None
    allowed_cidrs: Annotated[
        list[Annotated[str, item(CIDR_TEXT)]] | None,
        at_most(MAX_CIDRS),
        Field(
            alias="allowedCidrs",
            description=(
                "addresses or networks (IPv4 or IPv6, e.g. `203.0.113.0/24`) the key may log "
                "in from; a bare address means that address alone; default anywhere"
            ),
        ),
    ] = None


class KeySearch(Paged):
    sort: Annotated[
        str,
        text(20),
        one_of(KEY_SORTS, empty=DEFAULT_KEY_SORT),
        Field(
            json_schema_extra={"enum": list(KEY_SORTS)},
            description=(
                "ascending, or descending with a leading `-`; keys without a value (never "
                "used, no expiry) come last either way"
            ),
        ),
    ] = DEFAULT_KEY_SORT


class KeyRevoke(Body):
    id: KeyId


class KeyRotate(Body):
    grace_seconds: Annotated[
        int,
        between(0, MAX_GRACE_SECONDS),
        Field(
            alias="graceSeconds",
            description="how long the previous secret keeps working; 0 ends it at once",
        ),
    ] = DEFAULT_GRACE_SECONDS
    id: Annotated[KeyId, Field(description="a live key of the caller")]


class UserCreate(Body):
    username: Annotated[
        Username,
        Field(
            description=f"{MAX_USERNAME_LENGTH} characters at most once trimmed, no spaces; "
            "normally an e-mail"
        ),
    ]
    scopes: Annotated[
        Scopes | None, Field(description=f'among {_SCOPE_NAMES}; default `["tme_user"]`')
    ] = None
    password: Annotated[
        Password | None,
        Field(description="the password policy applies; without one, API keys only"),
    ] = None


class UserSearch(Paged):
    query: Annotated[
        str | None,
        text(MAX_USERNAME_LENGTH),
        Field(description="matches usernames containing it, case-insensitively"),
    ] = None


class UserUpdate(Body):
    username: Annotated[Username, Field(description="the account to change")]
    disabled: Annotated[Flag | None, Field(description="a disabled account cannot log in")] = None
    unlock_password: Annotated[
        Flag | None,
        Field(
            alias="unlockPassword",
            description="`true` clears the consecutive-failure count and the password locks",
        ),
    ] = None
    scopes: Annotated[
        Scopes | None, Field(description=f"the new scopes, at least one, among {_SCOPE_NAMES}")
    ] = None


class AdminSessionRevoke(Body):
    ticket: Annotated[Ticket | None, Field(description="any session, stored yet or not")] = None
    username: Annotated[Username | None, Field(description="every session of this account")] = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("ticket" in data) == ("username" in data):
            raise refuse("give either ticket or username", field="ticket")
        return data


class AdminKeyRevoke(Body):
    id: KeyId


class AuditSearch(Body):
    event: Annotated[str | None, text(40)] = None
    outcome: Annotated[str | None, text(20)] = None
    username: Annotated[str | None, text(MAX_USERNAME_LENGTH)] = None
    account_id: Annotated[str | None, text(32), Field(alias="accountId")] = None
    key_id: Annotated[str | None, text(32), Field(alias="keyId")] = None
    request_uuid: Annotated[str | None, text(36), Field(alias="requestUuid")] = None
    since: Annotated[Millis | None, Field(description="ms; inclusive")] = None
    until: Annotated[Millis | None, Field(description="ms; exclusive, later than `since`")] = None
    page: PageNumber = 1
    page_size: Annotated[PageSize, Field(alias="pageSize")] = DEFAULT_PAGE_SIZE

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: int | None, info: ValidationInfo) -> int | None:
        since = info.data.get("since")
        if since is not None and until is not None and until <= since:
            raise refuse("must be later than since")
        return until
