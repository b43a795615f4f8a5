"""Field readers of request bodies: each failure names its field."""

from __future__ import annotations

from typing import Any

import pytest

from xpay_auth.errors import InvalidField
from xpay_auth.http.fields import flag, integer, required_text, text, text_list


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("TRUE", True),
        ("True", True),
        (" true ", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
    ],
)
def test_flag_reads_booleans_and_their_strings(raw: Any, expected: bool) -> None:  # noqa: FBT001
    """isAPI is a JSON boolean or "true"/"false" in any case, and "false" means false."""
    assert flag({"isAPI": raw}, "isAPI") is expected


@pytest.mark.parametrize("raw", [1, 0, "yes", "no", "1", "0", "", "t", [], {}, 1.0, "truefalse"])
def test_flag_refuses_other_values_naming_the_field(raw: Any) -> None:
    """Anything else is an InvalidField that names isAPI."""
    with pytest.raises(InvalidField) as caught:
        flag({"isAPI": raw}, "isAPI")
    assert caught.value.field == "isAPI"
    assert caught.value.data["field"] == "isAPI"
    assert caught.value.status == 200


def test_flag_missing_is_required_or_defaults() -> None:
    """A missing or null flag is refused when required and defaults otherwise."""
    for body in ({}, {"isAPI": None}):
        with pytest.raises(InvalidField) as caught:
            flag(body, "isAPI")
        assert caught.value.data == {"field": "isAPI", "reason": "is required"}
    assert flag({}, "isAPI", required=False, default=True) is True


@pytest.mark.parametrize("raw", [None, 42, True, ["a"], {"a": 1}])
def test_required_text_names_the_field(raw: Any) -> None:
    """A missing or non-string value is an InvalidField naming the field."""
    body = {} if raw is None else {"username": raw}
    with pytest.raises(InvalidField) as caught:
        required_text(body, "username")
    assert caught.value.data["field"] == "username"
    assert caught.value.client_message == "invalid field: username"


def test_text_limits_length_and_nul() -> None:
    """Text longer than its limit or holding a NUL byte is refused; text within passes."""
    assert required_text({"secretKey": "x" * 10}, "secretKey", max_length=10) == "x" * 10
    with pytest.raises(InvalidField, match="secretKey"):
        required_text({"secretKey": "x" * 11}, "secretKey", max_length=10)
    with pytest.raises(InvalidField) as caught:
        required_text({"secretKey": "a\x00b"}, "secretKey")
    assert caught.value.data["field"] == "secretKey"
    assert text({}, "name", required=False) is None


def test_integer_checks_type_and_range() -> None:
    """Integers are range-checked; booleans and floats are not integers."""
    assert integer({"n": 5}, "n", minimum=1, maximum=10) == 5
    assert integer({}, "n", minimum=1, maximum=10, default=3) == 3
    for bad in (True, 1.5, "5", 0, 11):
        with pytest.raises(InvalidField) as caught:
            integer({"n": bad}, "n", minimum=1, maximum=10)
        assert caught.value.data["field"] == "n"


def test_text_list_checks_items() -> None:
    """A list of short strings passes; other shapes name the field."""
    assert text_list({"scopes": ["a", "b"]}, "scopes") == ["a", "b"]
    assert text_list({}, "scopes") is None
    for bad in ("a", [1], [""], ["a"] * 33):
        with pytest.raises(InvalidField) as caught:
            text_list({"scopes": bad}, "scopes")
        assert caught.value.data["field"] == "scopes"
