"""Every client call with its request model and its success data: what the API documents.

``/openapi.json`` and the field tables of ``docs/api.md`` are both built from this list,
and the routes validate with the same models, so none of the three can say something
the others do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xpay_auth.http import bodies, replies
from xpay_auth.http.paging import PageOf
from xpay_auth.http.wire import Body

DASHBOARD = "a dashboard session (a password login); an API-key token gets 403"
ADMIN = "scope tme_admin (an operator's dashboard session or API key)"
ADMIN_IN_PERSON = (
    "scope tme_admin in a dashboard session (a password login); an API-key token gets 403"
)
ADMIN_READ = "scope tme_admin_read or tme_admin"
ANY = "any session"


@dataclass(frozen=True, slots=True)
class CallDoc:
    """One ``POST`` client call as the API describes it."""

    path: str
    summary: str
    tag: str
    body: type[Body]
    data: Any  # the success data's type: a typed dict, or a page of one
    bearer: str | None = ANY  # the token the call needs; None: no token at all
    throttled: bool = False
    # Business refusals beyond `invalid field`: "credentials", or what may be not found
    # ("key", "session", "account").
    refusals: tuple[str, ...] = ()

    @property
    def body_required(self) -> bool:
        return any(field.is_required() for field in self.body.model_fields.values())


CALLS: tuple[CallDoc, ...] = (
    CallDoc(
        "/client/authenticate",
        "Trade a username and an API key or password for an access token",
        "client",
        bodies.Authenticate,
        replies.Login,
        bearer=None,
        throttled=True,
        refusals=("credentials",),
    ),
    CallDoc(
        "/client/session",
        "Describe the session behind the bearer token",
        "client",
        bodies.Empty,
        replies.SessionInfo,
    ),
    CallDoc(
        "/client/logout",
        "Revoke the bearer token's session",
        "client",
        bodies.Empty,
        replies.LoggedOut,
    ),
    CallDoc(
        "/client/keys/create",
        "Issue an API key for the caller's account; its secret is shown once",
        "keys",
        bodies.KeyCreate,
        replies.IssuedApiKey,
        bearer=DASHBOARD,
    ),
    CallDoc(
        "/client/keys/search",
        "A page of the caller's API keys",
        "keys",
        bodies.KeySearch,
        PageOf[replies.ApiKey],
        bearer=DASHBOARD,
    ),
    CallDoc(
        "/client/keys/revoke",
        "Revoke one of the caller's keys and its sessions",
        "keys",
        bodies.KeyRevoke,
        replies.ApiKey,
        bearer=DASHBOARD,
        refusals=("key",),
    ),
    CallDoc(
        "/client/keys/rotate",
        "Give a key a new secret; the old one works for graceSeconds more",
        "keys",
        bodies.KeyRotate,
        replies.IssuedApiKey,
        bearer=DASHBOARD,
        refusals=("key",),
    ),
    CallDoc(
        "/client/password/change",
        "Change the password; the account's other sessions end",
        "account",
        bodies.PasswordChange,
        replies.PasswordChanged,
        bearer=DASHBOARD,
        throttled=True,
    ),
    CallDoc(
        "/client/sessions/search",
        "A page of the caller's live sessions",
        "account",
        bodies.SessionSearch,
        PageOf[replies.SessionSummary],
        bearer=DASHBOARD,
    ),
    CallDoc(
        "/client/sessions/revoke",
        "End one of the caller's sessions",
        "account",
        bodies.OwnSessionRevoke,
        replies.SessionRevoked,
        bearer=DASHBOARD,
        refusals=("session",),
    ),
    CallDoc(
        "/admin/users/create",
        "Create an account",
        "admin",
        bodies.UserCreate,
        replies.Account,
        bearer=ADMIN_IN_PERSON,
    ),
    CallDoc(
        "/admin/users/search",
        "A page of accounts whose username contains query",
        "admin",
        bodies.UserSearch,
        PageOf[replies.Account],
        bearer=ADMIN_READ,
    ),
    CallDoc(
        "/admin/users/update",
        "Change an account's scopes or disabled flag",
        "admin",
        bodies.UserUpdate,
        replies.Account,
        bearer=ADMIN_IN_PERSON,
        refusals=("account",),
    ),
    CallDoc(
        "/admin/sessions/revoke",
        "End one session by ticket, or every session of a username",
        "admin",
        bodies.AdminSessionRevoke,
        replies.TicketRevoked | replies.UserSessionsRevoked,
        bearer=ADMIN,
        refusals=("account",),
    ),
    CallDoc(
        "/admin/keys/revoke",
        "Revoke any account's key",
        "admin",
        bodies.AdminKeyRevoke,
        replies.OwnedApiKey,
        bearer=ADMIN,
        refusals=("key",),
    ),
    CallDoc(
        "/admin/audit/search",
        "Search the audit trail, newest first",
        "admin",
        bodies.AuditSearch,
        PageOf[replies.AuditEvent],
        bearer=ADMIN_READ,
    ),
)
