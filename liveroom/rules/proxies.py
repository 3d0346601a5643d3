"""Which address a connection comes from when a load balancer stands in between.

Behind a balancer every socket's peer is the balancer; the client's own address is in the
`X-Forwarded-For` header the balancer adds. Anyone can send that header, so it is read only
from peers listed as trusted proxies, and only its right-most entries count: each proxy
appends the address it saw, so walking from the right past our own proxies reaches the
first address none of them vouch for. Everything left of that is what the client claimed.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 192.168.1.7"` -> networks; a bare address is a network of one;
    `"none"` -> no network."""
    if spec.strip().lower() == "none":
        return ()
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            out.append(ipaddress.ip_network(item, strict=False))
    return tuple(out)


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The address limits apply to: the peer itself, unless it is a trusted proxy."""
    if not forwarded_for or not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return _normal(hop)
    return _normal(hops[0]) if hops else peer


def _normal(address: str) -> str:
    """One spelling per address (IPv6 has many), so the same client counts once."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address[:64]  # not an address (a proxy's "unknown"): counted as given
