"""Property-based tests over ``POST /oauth/token``: whatever arrives, the protocol holds.

For arbitrary form bodies (known parameters with arbitrary values, unknown ones, raw
bytes) and arbitrary ``Authorization`` and ``Content-Type`` headers, the answer is a token
or an RFC 6749 section 5.2 error, never a 5xx; a 401 carries the Basic challenge; and a
refused request writes nothing but its audit event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.security.support import table_counts
from tests.support import Harness, running_app
from xpay_auth.http.openapi_oauth import ERROR_CODES

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "/oauth/token"
CLIENT = "pat@example.com"
FORM = "application/x-www-form-urlencoded"
STATUSES = {200, 400, 401, 413, 415, 429}
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    # One app and database serve every example: refused calls leave them as they were,
    # which is the very property under test.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@dataclass
class Subject:
    harness: Harness
    secret: str
    counts: dict[str, int] = field(default_factory=dict)

    def state(self) -> dict[str, int]:
        return self.harness.run(lambda runtime: table_counts(runtime.database.engine))

    def value(self, choice: str) -> str:
        """Stand-ins the strategies name, replaced by this subject's real credentials."""
        return {"<secret>": self.secret, "<client>": CLIENT}.get(choice, choice)

    def check(self, response: Any) -> None:
        assert response.status_code in STATUSES, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        if response.status_code == 200:
            assert body["token_type"] == "Bearer", body
            assert self.harness.runtime.verifier.verify(body["access_token"]).username == CLIENT
            self.counts = self.state()
            return
        assert body["error"] in ERROR_CODES, body
        assert set(body) == {"error", "error_description", "tag", "uuid"}
        if response.status_code == 401:
            assert response.headers["www-authenticate"].startswith("Basic realm=")
        assert self.state() == self.counts


@pytest.fixture
def subject(sqlite_url: str) -> Iterator[Subject]:
    """One account with an API key, on an app whose address throttle never trips."""
    with running_app(make_settings(sqlite_url, throttle_address_limit=100_000)) as harness:
        harness.create_user(CLIENT)
        _, secret = harness.create_key(CLIENT)
        subject = Subject(harness, secret)
        subject.counts = subject.state()
        yield subject


values = st.one_of(
    texts,
    st.sampled_from(
        ["<secret>", "<client>", "client_credentials", "tme_user", "tme_user tme_admin", ""]
    ),
)
parameter_names = st.one_of(
    st.sampled_from(["grant_type", "scope", "client_id", "client_secret"]), texts
)
GRANT = ("grant_type", "client_credentials")
# Most examples name the grant, so that they get as far as client authentication.
forms = st.tuples(st.booleans(), st.lists(st.tuples(parameter_names, values), max_size=6)).map(
    lambda drawn: [GRANT, *drawn[1]] if drawn[0] else drawn[1]
)


def basic_header(client: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()


# Header values as bytes: any Latin-1 text, which is what HTTP can carry.
header_texts = texts.map(lambda text: text.encode("latin-1", "replace"))
authorizations = st.one_of(
    st.none(),
    header_texts,
    header_texts.map(lambda raw: b"Basic " + raw),
    st.tuples(values, values).map(lambda pair: ("basic", *pair)),
)
content_types = st.one_of(
    st.just(FORM.encode()),
    st.just(f"{FORM}; charset=UTF-8".encode()),
    st.sampled_from([b"application/json", b"text/plain", b""]),
    header_texts,
)


def with_authorization(
    subject: Subject, headers: dict[bytes, bytes], authorization: Any
) -> dict[bytes, bytes]:
    if isinstance(authorization, tuple):
        client, secret = subject.value(authorization[1]), subject.value(authorization[2])
        headers[b"authorization"] = basic_header(client, secret).encode()
    elif authorization is not None:
        headers[b"authorization"] = authorization
    return headers


@given(form=forms, authorization=authorizations, content_type=content_types)
@EXAMPLES
def test_any_form_and_headers(
    subject: Subject, form: list[tuple[str, str]], authorization: Any, content_type: bytes
) -> None:
    """Arbitrary parameters, Authorization and Content-Type: a token or a 5.2 error, no 5xx."""
    headers = with_authorization(subject, {b"content-type": content_type}, authorization)
    body = urlencode([(name, subject.value(value)) for name, value in form])
    response = subject.harness.client.post(TOKEN, content=body.encode(), headers=headers)
    event(f"status {response.status_code}")
    subject.check(response)


@given(prefix=st.booleans(), raw=st.binary(max_size=300), authorization=authorizations)
@EXAMPLES
def test_any_bytes(subject: Subject, *, prefix: bool, raw: bytes, authorization: Any) -> None:
    """Arbitrary bytes in a form body: a token or a 5.2 error, never a 5xx."""
    headers = with_authorization(subject, {b"content-type": FORM.encode()}, authorization)
    content = (b"grant_type=client_credentials&" if prefix else b"") + raw
    response = subject.harness.client.post(TOKEN, content=content, headers=headers)
    event(f"status {response.status_code}")
    subject.check(response)


def test_a_right_request_among_them_succeeds(subject: Subject) -> None:
    """The strategies can reach success: the right form and header buy a token."""
    response = subject.harness.client.post(
        TOKEN,
        content=b"grant_type=client_credentials",
        headers={"content-type": FORM, "authorization": basic_header(CLIENT, subject.secret)},
    )
    assert response.status_code == 200, response.text
    subject.check(response)
