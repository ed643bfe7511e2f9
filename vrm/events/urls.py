"""Where a webhook may point. Outside development a URL must be https and its host must
resolve only to public addresses (no private, loopback, link-local, metadata or reserved
ones), checked when the endpoint is saved and again before every attempt (DNS can change).
In development and tests, plain http is allowed to a loopback host, for local receivers."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from vrm.errors import ValidationFailed

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# Cloud metadata services: refused in every environment.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry or reach an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible)
# or are deprecated (site-local): whatever Python calls them, never a webhook target.
TUNNELS = [
    ipaddress.ip_network(n)
    for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96", "fec0::/10")
]
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def is_public(address: Address) -> bool:
    """A global unicast address, not a metadata service, not a tunnel to IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address not in GLOBAL_UNICAST or any(address in net for net in TUNNELS):
            return False
    return address.is_global and not address.is_multicast and address not in METADATA


class UnsafeDestination(Exception):
    """The URL's host resolves to an address webhooks must not reach."""


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    address = _literal(host)
    return host.lower() in LOOPBACK_NAMES if address is None else address.is_loopback


def check_url(url: str, *, production: bool) -> str:
    """The URL, if a webhook may be sent there; otherwise a 422 naming ``url``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ValidationFailed("Give an absolute https URL", field="url") from None
    if parts.scheme not in {"https", "http"} or not host:
        raise ValidationFailed("Give an absolute https URL", field="url")
    if parts.username or parts.password:
        raise ValidationFailed("A webhook URL cannot carry credentials", field="url")
    if parts.fragment:
        raise ValidationFailed("A webhook URL cannot have a fragment", field="url")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValidationFailed("The port is not valid", field="url") from None
    if parts.scheme == "http" and (production or not is_loopback_host(host)):
        raise ValidationFailed(
            "Webhook URLs must use https (http only to a loopback host in development)",
            field="url",
        )
    literal = _literal(host)
    if literal is not None and literal in METADATA:
        raise ValidationFailed("A webhook URL cannot point at a metadata service", field="url")
    if production:
        try:
            public_addresses(host, parts.port or 443)
        except UnsafeDestination as refusal:
            raise ValidationFailed(str(refusal), field="url") from None
    return url


def public_addresses(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, all of them public; otherwise UnsafeDestination."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"The host {host!r} does not resolve") from None
    addresses: list[Address] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not is_public(address):
            # The address itself stays out of the message: it would map internal DNS.
            raise UnsafeDestination(f"The host {host!r} resolves to a non-public address")
        addresses.append(address)
    if not addresses:
        raise UnsafeDestination(f"The host {host!r} does not resolve")
    return addresses
