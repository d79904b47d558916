"""Which addresses a webhook may reach (SSRF guard), asked at registration and again at send time.

A webhook URL is typed by a hospital, so the portal's sender would otherwise POST wherever that
URL leads: the cloud metadata service (169.254.169.254), Redis on 10.0.0.5:6379, the admin on
127.0.0.1. The rule (API.md "Controls"): every address the host is or resolves to must be
public; loopback, private (RFC 1918, fc00::/7), link-local, shared (100.64/10), multicast,
reserved and unspecified addresses are refused unless they lie in WEBHOOK_ALLOWED_NETWORKS.

The host is resolved the way the C library resolves it for libcurl, so numeric tricks
(``0x7f000001``, ``2130706433``, ``127.1``, ``[::ffff:127.0.0.1]``) are judged by the address
they mean. The sender then connects to the address checked here (``transport`` pins it), so a
DNS answer that changes between the check and the connection (rebinding) cannot move it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The resolver is a module attribute so a test can stand in for DNS names this sandbox cannot
# resolve; everything else (IP literals, numeric forms, /etc/hosts names) resolves for real.
getaddrinfo = socket.getaddrinfo

# Checked in this order; the first match names the reason staff see.
_BLOCKED: tuple[tuple[str, str], ...] = (
    ("unspecified", "0.0.0.0/8"),
    ("loopback", "127.0.0.0/8"),
    ("private", "10.0.0.0/8"),
    ("private", "172.16.0.0/12"),
    ("private", "192.168.0.0/16"),
    ("link_local", "169.254.0.0/16"),
    ("shared", "100.64.0.0/10"),
    ("multicast", "224.0.0.0/4"),
    ("reserved", "240.0.0.0/4"),  # includes 255.255.255.255
    ("unspecified", "::/128"),
    ("loopback", "::1/128"),
    ("private", "fc00::/7"),
    ("link_local", "fe80::/10"),
    ("private", "fec0::/10"),  # deprecated site-local
    ("multicast", "ff00::/8"),
)
_BLOCKED_NETWORKS = tuple((reason, ipaddress.ip_network(cidr)) for reason, cidr in _BLOCKED)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address a webhook may not reach."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} → {address} is {reason.replace('_', '-')}, not a public address")
        self.host, self.address, self.reason = host, address, reason


class Unresolvable(Exception):
    """The host has no address (yet)."""


@dataclass(frozen=True)
class Target:
    """Where a URL's request may go: its host and port and the checked address to connect to."""

    host: str
    port: int
    address: str  # the first checked address; the connection is pinned to it


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def refusal_reason(ip: IPAddress) -> str:
    """'' when ``ip`` is public, else why not (loopback, private, link_local, shared, multicast,
    reserved, unspecified)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return refusal_reason(inner)
    for reason, network in _BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return reason
    # Everything else IANA lists as special-purpose (documentation, benchmarking, 192.0.0.0/24,
    # 2001::/23, discard-only …) is not reachable on the Internet either.
    if not ip.is_global or ip.is_reserved or ip.is_multicast:
        return "reserved"
    return ""


def _allowed(ip: IPAddress) -> bool:
    return any(ip.version == n.version and ip in n for n in conf.allowed_networks())


def _literal(host: str) -> IPAddress | None:
    """An address written in the URL itself, including the numeric forms inet_aton accepts."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 0x7f000001, 2130706433, 127.1, 0177.0.0.1
    except (OSError, ValueError):
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for (IP literals without a DNS query). Raises Unresolvable."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"{host}: {exc}") from exc
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen.setdefault(text, ipaddress.ip_address(text))
    if not seen:
        raise Unresolvable(f"{host}: no address")
    return list(seen.values())


def check_addresses(host: str, addresses: list[IPAddress]) -> None:
    """Raise AddressRefused unless every address is public or allowed. All, not any: a name
    that answers with one public and one private address would otherwise reach the private one."""
    for ip in addresses:
        reason = refusal_reason(ip)
        if reason and not _allowed(ip):
            raise AddressRefused(host, str(ip), reason)


def split_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; ValueError if it has none."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host.rstrip(".").lower() or host, port


def check_url(url: str, *, require_resolvable: bool) -> Target | None:
    """Resolve and check a webhook URL. Returns the Target to connect to; None when the host does
    not resolve and ``require_resolvable`` is False (registration: the hospital's DNS may not
    exist yet; the send-time check decides). Raises AddressRefused, Unresolvable, ValueError."""
    host, port = split_url(url)
    try:
        addresses = resolve(host, port)
    except Unresolvable:
        if require_resolvable:
            raise
        return None
    check_addresses(host, addresses)
    return Target(host, port, str(addresses[0]))
