"""The client address: the socket peer, or X-Forwarded-For only behind trusted proxies."""

from __future__ import annotations

from starlette.requests import Request

from xpay_auth.http.client_ip import client_ip


def _request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
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


def test_garbage_hop_stops_the_walk() -> None:
    """A hop that is not an address ends the walk at the last trusted address."""
    request = _request("10.0.0.2", "198.51.100.1, not-an-ip")
    assert client_ip(request, ["10.0.0.0/8"]) == "10.0.0.2"


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
