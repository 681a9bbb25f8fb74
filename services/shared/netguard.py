"""Decide which network addresses media downloads and webhooks may connect to.

Three classes of address matter. Public ones are always allowed. Loopback and private
ones (RFC 1918, unique-local, shared CGNAT space) are allowed only when the operator sets
FERRY_ALLOW_PRIVATE_URLS=1. Link-local, cloud-metadata and otherwise special addresses
(unspecified, multicast, reserved) are rejected whatever the setting, because a request
to them can leak cloud credentials or reach the node itself.

IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are
judged by the IPv4 address inside them. The checks run on resolved addresses at connect
time, so DNS answers that change between validation and connection do not slip through.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import unicodedata
from urllib.parse import urlsplit

from services.shared.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 9110 (section 4.1) recommends that HTTP software support URIs of at least 8000 octets;
# longer URLs fail at many servers and proxies anyway.
MAX_URL_LENGTH = 8192
# Unicode categories of control (Cc), format (Cf) and surrogate (Cs) characters. A valid URL
# has them percent-encoded, and raw ones could forge lines in text logs.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

# Metadata services outside the link-local ranges: Alibaba Cloud, Azure's wire server,
# Oracle Cloud and AWS's IPv6 endpoint.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("100.100.100.200", "168.63.129.16", "192.0.0.192", "fd00:ec2::254")
)
# What FERRY_ALLOW_PRIVATE_URLS opens besides loopback: RFC 1918, shared CGNAT space
# (RFC 6598) and unique-local IPv6 (RFC 4193). Listed here rather than taken from
# `is_private`, which also covers documentation, benchmarking and "this network" ranges
# and changes between Python releases.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class AddressClass(enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    FORBIDDEN = "forbidden"


class BlockedAddressError(InvalidRequest):
    code = "blocked_address"


def classify(address: IPAddress) -> AddressClass:
    """Classify one IP address as public, private (loopback included) or forbidden."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return classify(embedded)
    if address in _METADATA_ADDRESSES:
        return AddressClass.FORBIDDEN
    if address.is_loopback:
        return AddressClass.PRIVATE
    if (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    ):
        return AddressClass.FORBIDDEN
    if any(address in network for network in _PRIVATE_NETWORKS):
        return AddressClass.PRIVATE
    if not address.is_global:
        # Documentation, benchmarking and other special-purpose ranges.
        return AddressClass.FORBIDDEN
    return AddressClass.PUBLIC


def is_allowed(address: IPAddress, allow_private: bool) -> bool:
    verdict = classify(address)
    return verdict is AddressClass.PUBLIC or (allow_private and verdict is AddressClass.PRIVATE)


def parse_host_address(host: str) -> IPAddress | None:
    """Parse an IP literal, including the decimal, octal and hex IPv4 forms resolvers accept.

    Returns None for a host name, which has to be resolved first.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        # inet_aton accepts "2130706433", "0x7f.1" and "0177.0.0.1" like getaddrinfo does.
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def check_address(
    address: IPAddress, allow_private: bool, host: str, field: str | None = None
) -> None:
    """Raise BlockedAddressError unless `address` may be connected to.

    `field` names the request field the host came from, in the message and the details.
    """
    if is_allowed(address, allow_private):
        return
    verdict = classify(address)
    if verdict is AddressClass.PRIVATE:
        hint = "use a public URL, or set FERRY_ALLOW_PRIVATE_URLS=1 on a trusted network"
    else:
        hint = "link-local and cloud-metadata addresses are never allowed"
    subject = f"the host of {field}, {host}," if field else host
    details = {"field": field} if field else {}
    raise BlockedAddressError(
        f"{subject} resolves to {address}, a {verdict.value} address; {hint}",
        host=host,
        address=str(address),
        **details,
    )


def resolve_and_check(
    host: str, port: int, allow_private: bool, field: str | None = None
) -> list[IPAddress]:
    """Resolve `host` and raise BlockedAddressError if any of its addresses is not allowed.

    Every address is checked, not only the first, because a client may try each in turn.
    """
    literal = parse_host_address(host)
    if literal is not None:
        check_address(literal, allow_private, host, field)
        return [literal]
    details = {"field": field} if field else {}
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidRequest(
            f"could not resolve host {host!r}: {exc.strerror}; check the URL",
            code="unresolvable_host",
            host=host,
            **details,
        ) from exc
    except UnicodeError as exc:
        # The IDNA codec rejects empty labels and labels over 63 characters.
        raise InvalidRequest(
            f"host {_shorten(host)!r} is not a valid host name: {exc}; check the URL",
            code="invalid_url",
            **details,
        ) from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        check_address(address, allow_private, host, field)
    return addresses


def validate_url(url: str, allow_private: bool, field: str = "url") -> str:
    """Check that `url` is an absolute http(s) URL whose host may be reached.

    Raises InvalidRequest naming `field` for anything else.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"{field} is missing; pass an http or https URL", field=field)
    url = url.strip()
    _check_characters(url, field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(
            f"{field} {url!r} is not a valid URL: {exc}", code="invalid_url", field=field
        ) from exc
    if port == 0:
        raise InvalidRequest(
            f"{field} {url!r} has port 0, which no server listens on; pass a port from 1 "
            "to 65535 or none",
            code="invalid_url",
            field=field,
        )
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest(
            f"{field} {url!r} is not an http or https URL; pass a URL starting with https://",
            code="invalid_url",
            field=field,
        )
    if not parts.hostname:
        raise InvalidRequest(
            f"{field} {url!r} has no host name", code="invalid_url", field=field
        )
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    resolve_and_check(parts.hostname, port, allow_private, field)
    return url


def _check_characters(url: str, field: str) -> None:
    """Reject URLs longer than MAX_URL_LENGTH or holding whitespace or control characters."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(
            f"{field} is {len(url)} characters long; the limit is {MAX_URL_LENGTH}",
            code="invalid_url",
            field=field,
            max_length=MAX_URL_LENGTH,
        )
    for position, char in enumerate(url):
        if char.isspace() or unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise InvalidRequest(
                f"{field} contains the character {char!r} at position {position}; "
                "percent-encode spaces and control characters",
                code="invalid_url",
                field=field,
            )


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    # IPv4-compatible addresses (::a.b.c.d, deprecated but still routed by some stacks).
    if packed[:12] == bytes(12) and int(address) > 1:
        return ipaddress.IPv4Address(packed[12:])
    return None
