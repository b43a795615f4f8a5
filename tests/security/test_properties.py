"""Property-based tests over the authenticate body: whatever arrives, the contract holds.

For arbitrary JSON in each field, arbitrary extra fields and arbitrary bytes, the answer is
always the envelope, its status is one the contract lists for this call, never a 5xx, and a
refused call writes nothing but its audit event (checked by counting rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.envelopes import failure, success
from tests.security.support import table_counts
from tests.support import Harness, running_app

if TYPE_CHECKING:
    from collections.abc import Iterator

AUTHENTICATE = "/client/authenticate"
USERNAME = "pat@example.com"
# The statuses the contract allows for this call: 200 for every business outcome, 400 for a
# body that is not a JSON object, 413 too large, 415 wrong type, 429 throttled.
STATUSES = {200, 400, 413, 415, 429}
EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    # One app and database serve every example: refused calls leave them as they were,
    # which is the very property under test.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    # Surrogates included: escaped by json.dumps, they must be refused, not crash a hash.
    | st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class Subject:
    harness: Harness
    secret: str
    counts: dict[str, int] = field(default_factory=dict)

    def state(self) -> dict[str, int]:
        return self.harness.run(lambda runtime: table_counts(runtime.database.engine))

    def post(self, content: bytes, content_type: str = "application/json") -> Any:
        return self.harness.client.post(
            AUTHENTICATE, content=content, headers={"content-type": content_type}
        )

    def check(self, response: Any, *, may_succeed: bool = False) -> None:
        """The envelope and an allowed status; a refusal leaves every table as it was."""
        assert response.status_code in STATUSES, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        if "success" in body:
            assert may_succeed, body
            success(response)
            self.counts = self.state()
            return
        failure(response, response.status_code)
        assert self.state() == self.counts


@pytest.fixture
def subject(database_url: str) -> Iterator[Subject]:
    """One account with an API key, on an app whose address throttle never trips."""
    # The address throttle would turn most examples into 429s; they must reach the checks.
    app_settings = make_settings(database_url, throttle_address_limit=100_000)
    with running_app(app_settings) as harness:
        harness.create_user(USERNAME)
        _, secret = harness.create_key(USERNAME)
        subject = Subject(harness, secret)
        subject.counts = subject.state()
        yield subject


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _username_matches(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == USERNAME


@given(
    username=st.one_of(
        json_values, st.sampled_from([USERNAME, f"  {USERNAME.upper()} ", "PAT@example.com"])
    ),
    secret_choice=st.one_of(json_values, st.sampled_from(["<secret>", "<mutated>", "<prefix>"])),
    is_api=st.one_of(json_values, st.sampled_from([True, False, "true", "TRUE", " false "])),
    extra=st.dictionaries(
        st.text(max_size=12).filter(lambda name: name not in {"username", "secretKey", "isAPI"}),
        json_values,
        max_size=4,
    ),
)
@EXAMPLES
def test_any_json_in_any_field(
    subject: Subject, username: Any, secret_choice: Any, is_api: Any, extra: dict[str, Any]
) -> None:
    """Arbitrary JSON in each field, arbitrary extra fields: envelope, allowed status, no write."""
    secret = (
        {
            "<secret>": subject.secret,
            "<mutated>": subject.secret[:-1] + ("A" if subject.secret[-1] != "A" else "B"),
            "<prefix>": subject.secret[:20],
        }.get(secret_choice, secret_choice)
        if isinstance(secret_choice, str)
        else secret_choice
    )
    body = {**extra, "username": username, "secretKey": secret, "isAPI": is_api}
    right = _username_matches(username) and secret == subject.secret and _is_true(is_api)
    event("right credentials" if right else "wrong credentials")
    response = subject.post(json.dumps(body).encode())
    subject.check(response, may_succeed=right)
    if right:
        assert response.json()["success"]["data"]["user"]["username"] == USERNAME


@given(body=st.dictionaries(st.text(max_size=12), json_values, max_size=6) | json_values)
@EXAMPLES
def test_any_json_document(subject: Subject, body: Any) -> None:
    """Any JSON document at all, object or not, is refused in the envelope without a write."""
    subject.check(subject.post(json.dumps(body).encode()))


@given(raw=st.binary(max_size=3000))
@EXAMPLES
def test_any_bytes(subject: Subject, raw: bytes) -> None:
    """Arbitrary bytes as a JSON body are refused with 400 or a business error, never a 5xx."""
    response = subject.post(raw)
    assert response.status_code in {200, 400}
    subject.check(response)


@given(
    raw=st.binary(max_size=200),
    content_type=st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
    ),
)
@EXAMPLES
def test_any_content_type(subject: Subject, raw: bytes, content_type: str) -> None:
    """Arbitrary content types and bytes: 415 unless the type is JSON, and never a write."""
    response = subject.post(raw, content_type)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in {"", "application/json"}:
        assert response.status_code == 415
    subject.check(response)
