"""The client address: the socket peer, or X-Forwarded-For only behind trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from xpay_auth.errors import BadRequest
from xpay_auth.http.client_ip import FORWARDED, X_FORWARDED_FOR, client_ip

PROXY = "10.0.0.2"
TRUSTED = ["10.0.0.0/8"]


def _request(peer: str | None, *forwarded: str, header: str = X_FORWARDED_FOR) -> Request:
    headers = [(header.encode(), value.encode("latin-1")) for value in forwarded]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": headers,
        "client": (peer, 50000) if peer is not None else None,
    }
    return Request(scope)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    """With no trusted proxy configured, X-Forwarded-For never replaces the peer."""
    assert client_ip(_request("203.0.113.7", "198.51.100.1"), []) == "203.0.113.7"


def test_untrusted_peer_cannot_forge_its_address() -> None:
    """A peer outside the trusted networks is the client, whatever header it sends."""
    request = _request("203.0.113.7", "198.51.100.1")
    assert client_ip(request, ["10.0.0.0/8"]) == "203.0.113.7"


def test_trusted_proxy_forwards_the_client_address() -> None:
    """Behind a trusted proxy, the forwarded address is the client."""
    request = _request("10.0.0.2", "198.51.100.1")
    assert client_ip(request, ["10.0.0.0/8"]) == "198.51.100.1"


def test_rightmost_untrusted_hop_is_the_client() -> None:
    """Hops left of the first untrusted one from the right were written by the client."""
    request = _request("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.9")
    assert client_ip(request, ["10.0.0.0/8"]) == "198.51.100.1"


def test_several_headers_are_read_as_one_list() -> None:
    """Repeated X-Forwarded-For headers are joined in order."""
    request = _request("10.0.0.2", "1.1.1.1", "198.51.100.1")
    assert client_ip(request, ["10.0.0.0/8"]) == "198.51.100.1"


def test_all_trusted_hops_give_the_leftmost() -> None:
    """When every hop is a trusted proxy, the leftmost is the best answer."""
    request = _request("10.0.0.2", "10.0.0.5, 10.0.0.9")
    assert client_ip(request, ["10.0.0.0/8"]) == "10.0.0.5"


@pytest.mark.parametrize(
    ("hop", "client"),
    [
        ("198.51.100.9:4711", "198.51.100.9"),
        ("[2001:db8::5]:4711", "2001:db8::5"),
        ("[2001:db8::5]", "2001:db8::5"),
        ("::ffff:198.51.100.9", "198.51.100.9"),
        ("[::ffff:198.51.100.9]:80", "198.51.100.9"),
    ],
)
def test_a_forwarded_address_with_a_port_is_the_client_not_the_proxy(hop: str, client: str) -> None:
    """Ports, IPv6 brackets and IPv4-mapped forms name the client, never the proxy."""
    assert client_ip(_request(PROXY, hop), TRUSTED) == client


@pytest.mark.parametrize(
    "hop", ["not-an-ip", "", "unknown", "_hidden", "198.51.100.1:", "[2001:db8::5", "fe80::1%eth0"]
)
def test_a_malformed_forwarded_entry_is_refused_not_replaced_by_the_proxy(hop: str) -> None:
    """A deciding hop that is not an address is refused (400), never taken as the proxy."""
    with pytest.raises(BadRequest) as caught:
        client_ip(_request(PROXY, f"198.51.100.1, {hop}"), TRUSTED)
    assert caught.value.status == 400
    assert caught.value.client_message == "malformed forwarding header"


def test_garbage_left_of_the_client_is_ignored() -> None:
    """Hops left of the client were written by the client and are never parsed."""
    assert client_ip(_request(PROXY, "not-an-ip, 198.51.100.1"), TRUSTED) == "198.51.100.1"


def test_a_mapped_peer_is_unwrapped() -> None:
    """A dual-stack listener's ::ffff: peer is its IPv4 address, trusted or not."""
    assert client_ip(_request("::ffff:10.0.0.2", "198.51.100.1"), TRUSTED) == "198.51.100.1"
    assert client_ip(_request("::ffff:203.0.113.7", "198.51.100.1"), TRUSTED) == "203.0.113.7"


@pytest.mark.parametrize(
    ("values", "client"),
    [
        (["for=198.51.100.9;proto=https;by=10.0.0.2"], "198.51.100.9"),
        (['for="[2001:db8:cafe::17]:4711"'], "2001:db8:cafe::17"),
        (['For="198.51.100.9:4711"'], "198.51.100.9"),
        (["for=192.0.2.43, for=198.51.100.17;by=10.0.0.9", "for=10.0.0.9"], "198.51.100.17"),
        (['proto=https;for="[2001:db8::1]"'], "2001:db8::1"),
    ],
)
def test_the_standard_forwarded_header_names_the_client(values: list[str], client: str) -> None:
    """RFC 7239 ``Forwarded`` is read when configured, with quoted IPv6 and ports."""
    request = _request(PROXY, *values, header=FORWARDED)
    assert client_ip(request, TRUSTED, FORWARDED) == client


def test_only_the_configured_header_is_believed() -> None:
    """The header a proxy does not write passes through from the client and is ignored."""
    xff = _request(PROXY, "for=198.51.100.9", header=FORWARDED)
    assert client_ip(xff, TRUSTED, X_FORWARDED_FOR) == PROXY
    forwarded = _request(PROXY, "198.51.100.9")
    assert client_ip(forwarded, TRUSTED, FORWARDED) == PROXY


@pytest.mark.parametrize("value", ["for=unknown", "proto=https", 'for="_gazonk"', "for="])
def test_a_forwarded_element_without_an_address_is_refused(value: str) -> None:
    """A ``Forwarded`` element that names no address, or none at all, is refused (400)."""
    with pytest.raises(BadRequest):
        client_ip(_request(PROXY, value, header=FORWARDED), TRUSTED, FORWARDED)


def _outside_the_proxy_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not any(address in ipaddress.ip_network(net) for net in TRUSTED)


_ipv4 = st.ip_addresses(v=4).filter(_outside_the_proxy_network)


def _plain_ipv6(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        isinstance(address, ipaddress.IPv6Address)
        and address.ipv4_mapped is None
        and address.scope_id is None
    )


_ipv6 = st.ip_addresses(v=6).filter(_plain_ipv6)
_valid_hops = st.one_of(
    _ipv4.map(str),
    st.tuples(_ipv4, st.integers(0, 65535)).map(lambda pair: f"{pair[0]}:{pair[1]}"),
    _ipv6.map(str),
    _ipv6.map(lambda a: f"[{a}]"),
    st.tuples(_ipv6, st.integers(0, 65535)).map(lambda pair: f"[{pair[0]}]:{pair[1]}"),
    _ipv4.map(lambda a: f"::ffff:{a}"),
)
_hostile_hops = st.one_of(
    _valid_hops,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60),
    st.sampled_from(["unknown", "_hidden", "[::1", "1.2.3.4:", ":", "[]", "::ffff:", '"', ";"]),
)


@given(hops=st.lists(_hostile_hops, min_size=1, max_size=5), rightmost=_hostile_hops)
def test_hostile_forwarded_values_never_make_the_proxy_the_client(
    hops: list[str], rightmost: str
) -> None:
    """Whatever a client behind the proxy sends, the answer is 400 or an address not the proxy's."""
    for header in (X_FORWARDED_FOR, FORWARDED):
        pieces = [*hops, rightmost]
        if header == FORWARDED:
            pieces = [f'for="{hop}"' for hop in pieces]
        value = ", ".join(pieces)
        try:
            found = client_ip(_request(PROXY, value, header=header), TRUSTED, header)
        except BadRequest:
            continue
        assert found is not None
        assert found != PROXY
        assert _outside_the_proxy_network(ipaddress.ip_address(found))


def test_trusted_proxy_without_header_is_the_peer() -> None:
    """A trusted proxy that forwards no header leaves the peer as the address."""
    assert client_ip(_request("10.0.0.2"), ["10.0.0.0/8"]) == "10.0.0.2"


def test_single_address_and_ipv6_networks() -> None:
    """Single addresses and IPv6 networks work as trusted proxies."""
    assert client_ip(_request("127.0.0.1", "198.51.100.1"), ["127.0.0.1"]) == "198.51.100.1"
    assert client_ip(_request("::1", "2001:db8::5"), ["::1/128"]) == "2001:db8::5"
    assert client_ip(_request("127.0.0.2", "198.51.100.1"), ["127.0.0.1"]) == "127.0.0.2"


def test_no_peer_is_none() -> None:
    """A request without a socket peer has no address."""
    assert client_ip(_request(None, "198.51.100.1"), ["10.0.0.0/8"]) is None
