"""Request bodies read through their models: each refusal names its field, as always."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xpay_auth.errors import InvalidField
from xpay_auth.http import bodies
from xpay_auth.http.wire import Body, parse

TICKET = "0123456789abcdef" * 2
AUTH = {"username": "ivy@example.com", "secretKey": "s", "isAPI": True}
SORTS = "createdAt, -createdAt, name, -name, expiresAt, -expiresAt, lastUsedAt, -lastUsedAt"

# Each answer below is the one the hand-written readers gave before the models existed.
REFUSALS: list[tuple[type[Body], dict[str, Any], str, str]] = [
    (bodies.Authenticate, {}, "username", "is required"),
    (bodies.Authenticate, {**AUTH, "username": None}, "username", "is required"),
    (bodies.Authenticate, {**AUTH, "username": 7}, "username", "must be a string"),
    (bodies.Authenticate, {**AUTH, "username": ["a"]}, "username", "must be a string"),
    (
        bodies.Authenticate,
        {**AUTH, "username": "u" * 385},
        "username",
        "must be at most 384 characters",
    ),
    (
        bodies.Authenticate,
        {**AUTH, "username": "a\x00b"},
        "username",
        "must not contain NUL characters",
    ),
    (
        bodies.Authenticate,
        {**AUTH, "secretKey": "s" * 1025},
        "secretKey",
        "must be at most 1024 characters",
    ),
    (bodies.Authenticate, {**AUTH, "secretKey": {"$gt": ""}}, "secretKey", "must be a string"),
    (bodies.Authenticate, {**AUTH, "isAPI": 1}, "isAPI", "must be true or false"),
    (bodies.Authenticate, {**AUTH, "isAPI": "yes"}, "isAPI", "must be true or false"),
    (bodies.Authenticate, {**AUTH, "isAPI": None}, "isAPI", "is required"),
    (bodies.Authenticate, {"username": 1, "isAPI": 2}, "username", "must be a string"),
    (bodies.PasswordChange, {"currentPassword": "x"}, "newPassword", "is required"),
    (
        bodies.PasswordChange,
        {"currentPassword": "x" * 1025, "newPassword": "y"},
        "currentPassword",
        "must be at most 1024 characters",
    ),
    (bodies.SessionSearch, {"page": 0}, "page", "must be between 1 and 1000000"),
    (bodies.SessionSearch, {"page": True}, "page", "must be an integer"),
    (bodies.SessionSearch, {"page": 1.0}, "page", "must be an integer"),
    (bodies.SessionSearch, {"pageSize": 101}, "pageSize", "must be between 1 and 100"),
    (bodies.SessionSearch, {"pageSize": 10**30}, "pageSize", "must be between 1 and 100"),
    (bodies.OwnSessionRevoke, {}, "ticket", "is required"),
    (
        bodies.OwnSessionRevoke,
        {"ticket": TICKET.upper()},
        "ticket",
        "must be 32 lowercase hex characters",
    ),
    (bodies.OwnSessionRevoke, {"ticket": "0" * 65}, "ticket", "must be at most 64 characters"),
    (
        bodies.OwnSessionRevoke,
        {"ticket": "0" * 31 + "\x00"},
        "ticket",
        "must not contain NUL characters",
    ),
    (bodies.KeyCreate, {}, "name", "is required"),
    (bodies.KeyCreate, {"name": "   "}, "name", "is required"),
    (bodies.KeyCreate, {"name": "n" * 101}, "name", "must be at most 100 characters"),
    (
        bodies.KeyCreate,
        {"name": "n", "scopes": "tme_user"},
        "scopes",
        "must be a list of at most 32 strings",
    ),
    (
        bodies.KeyCreate,
        {"name": "n", "scopes": ["a"] * 33},
        "scopes",
        "must be a list of at most 32 strings",
    ),
    (
        bodies.KeyCreate,
        {"name": "n", "scopes": [""]},
        "scopes",
        "each item must be a string of 1 to 100 characters",
    ),
    (
        bodies.KeyCreate,
        {"name": "n", "expiresInDays": 3651},
        "expiresInDays",
        "must be between 1 and 3650",
    ),
    (
        bodies.KeyCreate,
        {"name": "n", "allowedCidrs": ["10.0.0.0/8"] * 33},
        "allowedCidrs",
        "must be a list of at most 32 strings",
    ),
    (
        bodies.KeyCreate,
        {"name": "n", "allowedCidrs": ["1" * 65]},
        "allowedCidrs",
        "each item must be a string of 1 to 64 characters",
    ),
    (bodies.KeySearch, {"sort": "size"}, "sort", f"must be one of {SORTS}"),
    (bodies.KeySearch, {"sort": "s" * 21}, "sort", "must be at most 20 characters"),
    (bodies.KeySearch, {"sort": 1}, "sort", "must be a string"),
    (bodies.KeyRevoke, {"id": "i" * 65}, "id", "must be at most 64 characters"),
    (
        bodies.KeyRotate,
        {"id": "k", "graceSeconds": 604_801},
        "graceSeconds",
        "must be between 0 and 604800",
    ),
    (bodies.KeyRotate, {"graceSeconds": -1}, "graceSeconds", "must be between 0 and 604800"),
    (bodies.KeyRotate, {"graceSeconds": 5}, "id", "is required"),
    (bodies.UserCreate, {"username": "u", "password": 5}, "password", "must be a string"),
    (bodies.UserSearch, {"query": "q" * 321}, "query", "must be at most 320 characters"),
    (bodies.UserUpdate, {"username": "u", "disabled": "no"}, "disabled", "must be true or false"),
    (
        bodies.UserUpdate,
        {"username": "u", "unlockPassword": 1},
        "unlockPassword",
        "must be true or false",
    ),
    (bodies.AdminSessionRevoke, {}, "ticket", "give either ticket or username"),
    (
        bodies.AdminSessionRevoke,
        {"ticket": TICKET, "username": "u"},
        "ticket",
        "give either ticket or username",
    ),
    (bodies.AdminSessionRevoke, {"ticket": "t"}, "ticket", "must be 32 lowercase hex characters"),
    (bodies.AdminKeyRevoke, {"id": 5}, "id", "must be a string"),
    (bodies.AuditSearch, {"event": "e" * 41}, "event", "must be at most 40 characters"),
    (bodies.AuditSearch, {"requestUuid": "r" * 37}, "requestUuid", "must be at most 36 characters"),
    (
        bodies.AuditSearch,
        {"since": 253_402_300_800_000},
        "since",
        "must be between 0 and 253402300799999",
    ),
    (bodies.AuditSearch, {"since": 5, "until": 5}, "until", "must be later than since"),
]


@pytest.mark.parametrize(("model", "body", "field", "reason"), REFUSALS)
def test_refusals_name_the_field_with_the_contracts_reason(
    model: type[Body], body: dict[str, Any], field: str, reason: str
) -> None:
    """A bad field answers `invalid field: <name>` with the reason clients always got."""
    with pytest.raises(InvalidField) as caught:
        parse(model, body)
    assert caught.value.data == {"field": field, "reason": reason}
    assert caught.value.client_message == f"invalid field: {field}"
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("true", True), ("TRUE", True), (" false ", False)],
)
def test_flags_read_booleans_and_their_strings(raw: Any, expected: bool) -> None:  # noqa: FBT001
    """isAPI is a JSON boolean or "true"/"false" in any case, and "false" means false."""
    assert parse(bodies.Authenticate, {**AUTH, "isAPI": raw}).is_api is expected


def test_defaults_and_ignored_fields() -> None:
    """Absent or null optional fields take their defaults; unknown fields are ignored."""
    search = parse(bodies.KeySearch, {"page": None, "sort": "", "admin": True})
    assert (search.page, search.page_size, search.sort) == (1, 20, "-createdAt")
    assert parse(bodies.KeyRotate, {"id": "k"}).grace_seconds == 86_400
    assert parse(bodies.KeyCreate, {"name": "  ci  "}).name == "ci"
    update = parse(bodies.UserUpdate, {"username": "u", "disabled": "False"})
    assert (update.disabled, update.unlock_password, update.scopes) == (False, None, None)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=40) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=50,
)
_MODELS = [
    bodies.Authenticate,
    bodies.KeyCreate,
    bodies.KeySearch,
    bodies.KeyRotate,
    bodies.UserUpdate,
    bodies.AdminSessionRevoke,
    bodies.AuditSearch,
]


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(_MODELS),
    body=st.dictionaries(
        st.sampled_from(["username", "secretKey", "isAPI", "name", "scopes", "sort", "ticket"])
        | st.sampled_from(["graceSeconds", "since", "until", "page", "allowedCidrs", "id"]),
        _JSON,
    ),
)
def test_any_json_body_parses_or_names_a_field(model: type[Body], body: dict[str, Any]) -> None:
    """Whatever JSON a body holds, it parses or is one InvalidField naming a real field."""
    refused: InvalidField | None = None
    try:
        parse(model, body)
    except InvalidField as exc:
        refused = exc
    if refused is not None:
        names = {info.alias or name for name, info in model.model_fields.items()}
        assert refused.field in names
        assert refused.data["reason"]
