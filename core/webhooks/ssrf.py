"""Which webhook targets may be called: no internal address, however it is spelled.

A URL is checked after DNS resolution, on every address its host resolves to, at
registration and again before each delivery; the HTTP client (core.webhooks.http) then
connects to those checked addresses only, so a name that re-resolves to an internal
address between the check and the connection (DNS rebinding) never reaches it.

Refused: loopback, RFC 1918, link-local (169.254.169.254, the cloud metadata service),
100.64.0.0/10, multicast, unspecified, reserved and other non-global ranges, IPv6 unique-local
and link-local, IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo), and
IPv4 written in decimal, octal or hex (`http://2130706433/`, `0x7f.1`, `0177.0.0.1`), which
resolvers read as addresses but humans do not. Networks in WEBHOOK_ALLOWED_CIDRS are exempt
(for local runs and tests). Plain http is accepted only for loopback targets so allowed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Non-global ranges that some Python versions' is_global misses, with their names.
_NAMED_RANGES = tuple(
    (ipaddress.ip_network(network), name)
    for network, name in (
        ("100.64.0.0/10", "in the shared address space 100.64.0.0/10"),
        ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
        ("0.0.0.0/8", "in 'this network' (0.0.0.0/8)"),
    )
)
_METADATA = ipaddress.ip_address("169.254.169.254")
# IPv6 prefixes that carry an IPv4 address inside, which the IPv4 checks would not see.
_EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(prefix)
    for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96")
)
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CANONICAL_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")


class TargetError(Exception):
    """A webhook URL cannot be called. `retryable`: it may work later (DNS trouble)."""

    retryable = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsafeTarget(TargetError):
    """The URL points at an address we must never call, or is not a URL we call at all."""


class UnresolvableTarget(TargetError):
    """The host name does not resolve (now)."""

    retryable = True


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses the client may connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def allowed_networks() -> list[Network]:
    """WEBHOOK_ALLOWED_CIDRS as networks (a list, or one comma-separated string)."""
    configured = settings.WEBHOOK_ALLOWED_CIDRS
    if isinstance(configured, str):
        configured = configured.split(",")
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in configured if cidr.strip()]


def address_refusal(address: IPAddress, allowed: list[Network] | None = None) -> str | None:
    """Why `address` may not be called, or None when it may."""
    allowed = allowed_networks() if allowed is None else allowed
    if any(address.version == network.version and address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        # ::/96 (IPv4-compatible) also holds ::1 and ::, which embed nothing: they are named below.
        special = address.is_loopback or address.is_unspecified
        if not special and any(address in network for network in _EMBEDS_IPV4):
            return "an IPv6 address that embeds an IPv4 address"
    if address == _METADATA:
        return "the cloud metadata address"
    for network, name in _NAMED_RANGES:
        if address.version == network.version and address in network:
            return name
    for reason, refused in (
        ("a loopback address", address.is_loopback),
        ("the unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("not a globally routable address", not address.is_global),
    ):
        if refused:
            return reason
    return None


def is_spelled_ipv4(host: str) -> bool:
    """True for an IPv4 address in any spelling but the canonical dotted quad.

    inet_aton (and so many resolvers) reads `2130706433`, `0x7f.1`, `127.1` and `0177.0.0.1`
    as 127.0.0.1; we refuse them rather than guess which reading the resolver takes.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(part) for part in parts):
        return False
    canonical = len(parts) == 4 and all(
        _CANONICAL_OCTET.match(part) and int(part) <= 255 for part in parts
    )
    return not canonical


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (patched in tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _addresses(host: str, port: int) -> list[str]:
    """The host itself when it is an address literal, otherwise what it resolves to."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise UnresolvableTarget(f"{host} does not resolve: {error}.") from None
    if not addresses:
        raise UnresolvableTarget(f"{host} resolves to no address.")
    return addresses


def check_url(url: str) -> Target:
    """Parse, resolve and check `url`; raises UnsafeTarget or UnresolvableTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeTarget(f"The URL is malformed: {error}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget("A webhook URL is https (or http for an allowed loopback target).")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("A webhook URL carries no user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("A webhook URL names a host.")
    if "%" in host:
        raise UnsafeTarget("A webhook URL may not name an IPv6 zone.")
    if is_spelled_ipv4(host):
        raise UnsafeTarget(
            f"{host!r} is an IPv4 address in decimal, octal or hex: write the dotted quad, "
            "and note that internal addresses are refused."
        )
    port = port or (443 if scheme == "https" else 80)
    addresses = _addresses(host, port)
    allowed = allowed_networks()
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = address_refusal(address, allowed)
        if reason:
            subject = host if host == str(address) else f"{host} resolves to {address}, which"
            raise UnsafeTarget(
                f"{subject} is {reason}; webhooks are sent to public addresses only."
            )
        if scheme == "http" and not address.is_loopback:
            raise UnsafeTarget(
                "A webhook URL must use https; http is accepted only for loopback targets "
                "that WEBHOOK_ALLOWED_CIDRS allows."
            )
        checked.append(str(address))
    return Target(url=url, scheme=scheme, host=host, port=port, addresses=tuple(checked))
