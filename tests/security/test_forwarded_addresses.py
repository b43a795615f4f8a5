"""Behind a trusted proxy, the forwarded address decides key allow-lists and throttle buckets.

The app runs in-process with every request coming from the proxy 10.0.0.2; a key allow-listed
to the proxy's own network (10.0.0.0/8) must open only for clients inside it, however a client
outside it writes its address.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.envelopes import failure, success
from tests.support import Harness
from xpay_auth.app import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

USER = "pat@example.com"
PROXY = "10.0.0.2"
AUTHENTICATE = "/client/authenticate"


@pytest.fixture
def behind_proxy(database_url: str) -> Iterator[Harness]:
    """The app with 10.0.0.0/8 as trusted proxies and every request from 10.0.0.2."""
    app = create_app(make_settings(database_url, trusted_proxies=["10.0.0.0/8"]))
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 50000)) as client:
        yield Harness(client)


def _login(
    harness: Harness, secret: str, forwarded: str, *, header: str = "X-Forwarded-For"
) -> Any:
    return harness.post(
        AUTHENTICATE,
        {"username": USER, "secretKey": secret, "isAPI": True},
        headers={header: forwarded},
    )


def _internal_key(harness: Harness) -> str:
    harness.create_user(USER)
    _, secret = harness.create_key(USER, allowed_cidrs=["10.0.0.0/8"])
    return secret


@pytest.fixture
def internal_key(behind_proxy: Harness) -> str:
    """The secret of a key that may log in only from 10.0.0.0/8."""
    return _internal_key(behind_proxy)


@pytest.mark.parametrize("forwarded", ["198.51.100.9:4711", "[2001:db8::5]:4711"])
def test_an_internal_key_refuses_an_outside_client_that_forwards_a_port(
    behind_proxy: Harness, forwarded: str
) -> None:
    """``IP:port`` and ``[IPv6]:port`` name the outside client, so an internal key refuses it."""
    secret = _internal_key(behind_proxy)
    assert failure(_login(behind_proxy, secret, forwarded))["message"] == "invalid credentials"
    assert "access_token" in success(_login(behind_proxy, secret, "10.9.8.7:4711"))


def test_a_malformed_forwarded_entry_is_refused_with_400(behind_proxy: Harness) -> None:
    """An entry that is not an address answers 400 in the envelope, not the proxy's login."""
    secret = _internal_key(behind_proxy)
    error = failure(_login(behind_proxy, secret, "198.51.100.9, not-an-address"), 400)
    assert error["message"] == "malformed forwarding header"


def test_a_mapped_client_address_meets_its_ipv4_allow_list(database_url: str) -> None:
    """``::ffff:198.51.100.9`` is 198.51.100.9 to an allow-list naming 198.51.100.0/24."""
    app = create_app(make_settings(database_url, trusted_proxies=["10.0.0.0/8"]))
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 50000)) as client:
        harness = Harness(client)
        harness.create_user(USER)
        _, secret = harness.create_key(USER, allowed_cidrs=["198.51.100.0/24"])
        assert "access_token" in success(_login(harness, secret, "::ffff:198.51.100.9"))
        refused = failure(_login(harness, secret, "::ffff:203.0.113.9"))
        assert refused["message"] == "invalid credentials"


def test_the_forwarded_header_decides_when_configured(database_url: str) -> None:
    """With ``XPAY_AUTH_PROXY_HEADER=forwarded``, RFC 7239 ``for=`` names the client."""
    app = create_app(
        make_settings(database_url, trusted_proxies=["10.0.0.0/8"], proxy_header="forwarded")
    )
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 50000)) as client:
        harness = Harness(client)
        secret = _internal_key(harness)
        outside = 'for="[2001:db8::5]:4711";proto=https'
        refused = failure(_login(harness, secret, outside, header="Forwarded"))
        assert refused["message"] == "invalid credentials"
        inside = "for=10.9.8.7;proto=https"
        assert "access_token" in success(_login(harness, secret, inside, header="Forwarded"))
        # The header the proxy does not write is the client's own and changes nothing.
        spoofed = harness.post(
            AUTHENTICATE,
            {"username": USER, "secretKey": secret, "isAPI": True},
            headers={"Forwarded": outside, "X-Forwarded-For": "10.9.8.7"},
        )
        assert failure(spoofed)["message"] == "invalid credentials"


def test_clients_with_ports_do_not_share_the_proxy_throttle_bucket(behind_proxy: Harness) -> None:
    """Failures from many ported clients never throttle an unrelated client's valid key."""
    behind_proxy.create_user(USER)
    _, secret = behind_proxy.create_key(USER)
    wrong = secret[:-8] + ("A" if secret[-8] != "A" else "B") + secret[-7:]
    for port in range(25):
        _login(behind_proxy, wrong, f"198.51.100.{port}:4711")
    response = _login(behind_proxy, secret, "203.0.113.50:4711")
    assert response.status_code == 200, response.text
    assert "access_token" in success(response)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not address.is_private


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None


_hop_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=50)
_ported = st.tuples(st.ip_addresses(v=4).filter(_public), st.integers(0, 65535)).map(
    lambda pair: f"{pair[0]}:{pair[1]}"
)
_bracketed = st.ip_addresses(v=6).filter(_unmapped).map(lambda one: f"[{one}]:80")
_hostile = st.lists(st.one_of(_hop_text, _ported, _bracketed), min_size=1, max_size=4).map(
    ", ".join
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(forwarded=_hostile)
def test_hostile_forwarded_headers_never_open_an_internal_key_nor_answer_500(
    behind_proxy: Harness, internal_key: str, forwarded: str
) -> None:
    """Any forwarded text from outside answers refused, 400 or 429 in the envelope, never 5xx."""
    response = _login(behind_proxy, internal_key, forwarded)
    assert response.status_code in {200, 400, 429}, response.text
    assert failure(response, response.status_code)["message"] != ""
