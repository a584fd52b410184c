"""Which network addresses outbound webhook requests may reach (SSRF protection)."""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that are not for webhook receivers but which ipaddress does not call private.
_EXTRA_BLOCKED = [
    ipaddress.ip_network("100.64.0.0/10"),  # CGNAT
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64, maps onto IPv4 (private ones too)
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("2002::/16"),  # 6to4: embeds any IPv4, 127.0.0.1 included
    ipaddress.ip_network("2001::/32"),  # Teredo: embeds an IPv4 too
    ipaddress.ip_network("fec0::/10"),  # site-local (deprecated, still routed inside sites)
]


def blocked_reason(
    address: IPAddress, allowed: Iterable[ipaddress._BaseNetwork] = ()
) -> str | None:
    """Return why address may not be reached, or None when it may."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return blocked_reason(address.ipv4_mapped, allowed)
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address (cloud metadata lives here)"
    if address.is_multicast:
        return "multicast address"
    if address.is_unspecified:
        return "unspecified address"
    if any(address in network for network in _EXTRA_BLOCKED if network.version == address.version):
        return "reserved address (CGNAT, NAT64, 6to4, Teredo or special use)"
    if address.is_private or address.is_reserved or not address.is_global:
        return "private address"
    return None


def is_loopback(address: IPAddress) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def parse_literal(host: str) -> IPAddress | None:
    """The address if host is an IP literal (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
