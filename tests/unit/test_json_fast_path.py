"""The orjson fast path of request parsing answers exactly what the strict parser answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xpay_auth import contract
from xpay_auth.errors import BadRequest

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
    | st.sampled_from(["a:b", '"', "\\", "{", "}", "[", ":", "\u2028", "\U0001f600"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["a", "a:", ":"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)
# Fragments that are JSON in some places and not in others, for bodies built by hand.
_FRAGMENTS = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"a"',
        '"a:b"',
        "1",
        "-0",
        "1e999",
        "18446744073709551616",
        "1" * 30,
        "NaN",
        "true",
        "null",
        '"\\ud800"',
        '"\\udc00"',
        '"\\ud83d\\ude00"',
        '"\\u003a"',
        " ",
        "\t",
        "\ufeff",
        '"\x00"',
    ]
)


def _verdict(parse: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return ("ok", parse(raw))
    except BadRequest as refused:
        return ("400", refused.client_message)


def _strict(raw: bytes) -> Any:
    # The reference: the depth check, then the standard library with the strict hooks.
    if contract._depth_exceeds(raw, contract.MAX_JSON_DEPTH):
        raise BadRequest(message="body is nested too deeply")
    return contract.strict_parse(raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=8), _VALUES, max_size=5))
def test_objects_parse_to_the_same_value(value: dict[str, Any]) -> None:
    """Any JSON object parses to the value the strict parser gives, float and int alike."""
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert _verdict(contract.parse_json_object, raw) == _verdict(_strict, raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), _SCALARS, min_size=1, max_size=3),
    st.sampled_from(["a", "b", "c"]),
    _SCALARS,
)
def test_duplicate_keys_are_refused_wherever_they_are(
    value: dict[str, Any], key: str, extra: Any
) -> None:
    """A repeated key, at the top or nested, is a 400 whatever colons the values hold."""
    member = json.dumps({key: extra})[1:-1]
    body = json.dumps(value)[:-1] + ", " + member + "}"
    expected = "400" if key in value else "ok"
    for raw in (body.encode(), ('{"outer": ' + body + "}").encode()):
        assert _verdict(contract.parse_json_object, raw)[0] == expected
        assert _verdict(contract.parse_json_object, raw) == _verdict(_strict, raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, min_size=1, max_size=12))
def test_hand_built_bodies_get_the_strict_verdict(parts: list[str]) -> None:
    """Bodies made of JSON fragments, valid or not, get the strict parser's verdict."""
    raw = ("{" + "".join(parts) + "}").encode()
    assert _verdict(contract.parse_json_object, raw) == _verdict(_strict, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"isAPI": false, "isAPI": true}',
        b'{"a": "x:y", "a": 1}',
        b'{"a": {"b": 1, "b": 2}}',
        b'{"a": "\\ud800"}',
        b'{"a": 1e999}',
        b'{"a": NaN}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": "\xff"}',
    ],
)
def test_what_the_strict_rules_refuse_stays_refused(raw: bytes) -> None:
    """Duplicates, lone surrogates, infinities, NaN, a BOM and bad UTF-8 are each a 400."""
    with pytest.raises(BadRequest):
        contract.parse_json_object(raw)


def test_big_integers_keep_their_exact_value() -> None:
    """An integer beyond 64 bits is the same exact integer, never a rounded float."""
    assert contract.parse_json_object(b'{"n": 18446744073709551617}') == {"n": 18446744073709551617}


def test_responses_serialize_huge_integers_too() -> None:
    """The response encoder falls back for values orjson cannot take, with the same output."""
    assert contract.dumps({"n": 2**70, "s": "é"}) == '{"n":1180591620717411303424,"s":"é"}'.encode()
