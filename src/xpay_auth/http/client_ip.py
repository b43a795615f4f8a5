"""The client's address: the socket peer, or the forwarding header behind trusted proxies.

Behind a proxy in ``XPAY_AUTH_TRUSTED_PROXIES`` the header named by ``XPAY_AUTH_PROXY_HEADER``
is read: ``X-Forwarded-For`` (the default) or the standard ``Forwarded`` (RFC 7239). Only one
is ever believed, as Keycloak's ``proxy-headers`` option does, because a proxy that writes one
passes the other through from the client untouched.

Hops are read from the right while they are trusted proxies; the first untrusted hop is the
client. Each hop is parsed as an address, with or without a port (``198.51.100.9:4711``,
``[2001:db8::5]:4711``), and an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is taken as
the IPv4 address it carries, so allow-lists and throttle buckets see one form. A hop that is
still not an address is refused with 400: substituting the proxy's own address would put
every such client behind one throttle bucket and inside the proxy's network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from starlette.requests import Request

from xpay_auth.errors import BadRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"
PROXY_HEADERS = (X_FORWARDED_FOR, FORWARDED)
_MAX_HOP_CHARS = 100
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?")
_IPV4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def canonical(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as its IPv4 address; any other address unchanged."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> Address | None:
    """``text`` as an address, allowing a port and IPv6 brackets; None when it is not one."""
    if len(text) > _MAX_HOP_CHARS:
        return None
    candidate = text
    if (match := _BRACKETED.fullmatch(text)) or (match := _IPV4_PORT.fullmatch(text)):
        candidate = match.group(1)
    try:
        parsed = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    # A zone index names an interface of the proxy, not a client.
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        return None
    return canonical(parsed)


@lru_cache(maxsize=4096)
def _peer(text: str) -> tuple[Address | None, str]:
    """The socket peer's address and the text that names it, parsed once per peer.

    The same peers (clients, or the load balancers in front) open connection after
    connection; parsing and printing an address costs about 10 µs, a cache hit well under 1.
    """
    peer = parse_address(text)
    return peer, text if peer is None else str(peer)


def _unquote(value: str) -> str:
    """An RFC 7230 quoted-string's content (RFC 7239 section 4 quotes IPv6 and ports)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':  # noqa: PLR2004
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _forwarded_hops(values: Sequence[str]) -> Iterator[str]:
    """The ``for=`` value of each element of RFC 7239 ``Forwarded`` headers, in order.

    An element without ``for=`` is yielded as the empty string, so that it stops the walk
    as a hop that is not an address instead of letting the next one speak for it.
    """
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                name, sep, raw = pair.partition("=")
                if sep and name.strip().lower() == "for":
                    found = _unquote(raw.strip())
                    break
            yield found


def _hops(request: Request, header: str) -> list[str]:
    values = request.headers.getlist(header)
    if header == FORWARDED:
        return list(_forwarded_hops(values))
    # An empty element is kept: it is a hop that is not an address, not a hop to skip.
    return [hop.strip() for value in values for hop in value.split(",")]


def client_ip(
    request: Request, trusted_proxies: Sequence[str], header: str = X_FORWARDED_FOR
) -> str | None:
    """Walk the forwarding header from the right while the hop is a trusted proxy.

    The rightmost untrusted address is the client: anything left of it was written by the
    client itself and proves nothing. Raises :class:`BadRequest` when a hop that would decide
    the address is not one.
    """
    peer_text = request.client.host if request.client else None
    if peer_text is None:
        return None
    peer, peer_text = _peer(peer_text)
    if peer is None or not trusted_proxies:
        return peer_text
    networks = _networks(tuple(trusted_proxies))
    if not any(peer in network for network in networks):
        return peer_text
    address = peer
    for hop in reversed(_hops(request, header)):
        parsed = parse_address(hop)
        if parsed is None:
            raise BadRequest(
                message="malformed forwarding header",
                detail=f"{header} hop {hop[:_MAX_HOP_CHARS]!r} is not an address",
            )
        address = parsed
        if not any(parsed in network for network in networks):
            break
    return str(address)
