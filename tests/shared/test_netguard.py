"""The address classifier and URL validation, on IP literals only (no DNS, no sockets)."""

from __future__ import annotations

import ipaddress

import pytest

from services.shared import netguard
from services.shared.errors import InvalidRequest
from services.shared.netguard import AddressClass, BlockedAddressError

PUBLIC = AddressClass.PUBLIC
PRIVATE = AddressClass.PRIVATE
FORBIDDEN = AddressClass.FORBIDDEN


def teredo(client: str) -> str:
    """Return a Teredo address (2001::/32) whose client is `client`, stored inverted."""
    server = int(ipaddress.IPv4Address("65.54.227.120"))
    inverted_client = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (server << 64) | inverted_client))


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        # IPv4
        ("8.8.8.8", PUBLIC),
        ("93.184.215.14", PUBLIC),
        ("127.0.0.1", PRIVATE),
        ("127.255.255.254", PRIVATE),
        ("10.0.0.1", PRIVATE),
        ("172.16.5.4", PRIVATE),
        ("172.31.255.255", PRIVATE),
        ("172.32.0.1", PUBLIC),
        ("192.168.1.1", PRIVATE),
        ("100.64.0.1", PRIVATE),
        ("169.254.169.254", FORBIDDEN),
        ("169.254.1.1", FORBIDDEN),
        ("100.100.100.200", FORBIDDEN),
        ("168.63.129.16", FORBIDDEN),
        ("192.0.0.192", FORBIDDEN),
        ("0.0.0.0", FORBIDDEN),
        ("0.1.2.3", FORBIDDEN),
        ("224.0.0.1", FORBIDDEN),
        ("240.0.0.1", FORBIDDEN),
        ("255.255.255.255", FORBIDDEN),
        ("192.0.2.1", FORBIDDEN),
        ("198.18.0.1", FORBIDDEN),
        ("203.0.113.7", FORBIDDEN),
        # IPv6
        ("2606:4700:4700::1111", PUBLIC),
        ("::1", PRIVATE),
        ("fd12:3456::1", PRIVATE),
        ("fc00::1", PRIVATE),
        ("fd00:ec2::254", FORBIDDEN),
        ("fe80::1", FORBIDDEN),
        ("fec0::1", FORBIDDEN),
        ("::", FORBIDDEN),
        ("ff02::1", FORBIDDEN),
        ("2001:db8::1", FORBIDDEN),
        # IPv4-mapped
        ("::ffff:169.254.169.254", FORBIDDEN),
        ("::ffff:127.0.0.1", PRIVATE),
        ("::ffff:10.1.2.3", PRIVATE),
        ("::ffff:8.8.8.8", PUBLIC),
        # IPv4-compatible (deprecated)
        ("::169.254.169.254", FORBIDDEN),
        ("::127.0.0.1", PRIVATE),
        # NAT64
        ("64:ff9b::169.254.169.254", FORBIDDEN),
        ("64:ff9b::127.0.0.1", PRIVATE),
        ("64:ff9b::8.8.8.8", PUBLIC),
        # 6to4
        ("2002:a9fe:a9fe::1", FORBIDDEN),
        ("2002:7f00:1::1", PRIVATE),
        ("2002:808:808::1", PUBLIC),
        # Teredo
        (teredo("169.254.169.254"), FORBIDDEN),
        (teredo("127.0.0.1"), PRIVATE),
        (teredo("8.8.8.8"), PUBLIC),
    ],
)
def test_classify_address(address: str, expected: AddressClass) -> None:
    assert netguard.classify(ipaddress.ip_address(address)) is expected


@pytest.mark.parametrize(
    ("address", "allow_private", "expected"),
    [
        ("8.8.8.8", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("fd12::1", True, True),
        ("169.254.169.254", True, False),
        ("fd00:ec2::254", True, False),
        ("::ffff:169.254.169.254", True, False),
    ],
)
def test_is_allowed_by_policy(address: str, allow_private: bool, expected: bool) -> None:
    assert netguard.is_allowed(ipaddress.ip_address(address), allow_private) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("[::1]", "::1"),
        ("[::ffff:169.254.169.254]", "::ffff:169.254.169.254"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_parse_host_address_literal(host: str, expected: str) -> None:
    assert netguard.parse_host_address(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1.2.3.08", "0x1g.0.0.1"])
def test_parse_host_address_name(host: str) -> None:
    assert netguard.parse_host_address(host) is None


def test_check_address_private_names_setting() -> None:
    with pytest.raises(BlockedAddressError, match="FERRY_ALLOW_PRIVATE_URLS=1") as caught:
        netguard.check_address(ipaddress.ip_address("10.0.0.1"), False, "intranet.test")

    assert caught.value.details == {"host": "intranet.test", "address": "10.0.0.1"}
    assert caught.value.code == "blocked_address"


def test_check_address_metadata_never_allowed() -> None:
    with pytest.raises(BlockedAddressError, match="never allowed"):
        netguard.check_address(ipaddress.ip_address("169.254.169.254"), True, "169.254.169.254")


def test_validate_url_public_literal() -> None:
    assert netguard.validate_url(" https://8.8.8.8/a?b=1 ", False) == "https://8.8.8.8/a?b=1"


def test_validate_url_loopback_refused_without_private() -> None:
    with pytest.raises(BlockedAddressError, match="127.0.0.1"):
        netguard.validate_url("http://127.0.0.1/", False)


def test_validate_url_loopback_allowed_with_private() -> None:
    assert netguard.validate_url("http://127.0.0.1/", True) == "http://127.0.0.1/"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
    ],
)
def test_validate_url_metadata_refused_with_private(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        netguard.validate_url(url, True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://8.8.8.8/file", "is not an http or https URL"),
        ("file:///etc/passwd", "is not an http or https URL"),
        ("8.8.8.8/path", "is not an http or https URL"),
        ("http:///path", "has no host name"),
        ("http://8.8.8.8:99999/", "is not a valid URL"),
    ],
)
def test_validate_url_invalid(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        netguard.validate_url(url, True, field="webhook_url")

    assert caught.value.code == "invalid_url"
    assert caught.value.message.startswith("webhook_url ")
    assert caught.value.details == {"field": "webhook_url"}


@pytest.mark.parametrize("url", ["", "   "])
def test_validate_url_missing(url: str) -> None:
    with pytest.raises(InvalidRequest, match="url is missing") as caught:
        netguard.validate_url(url, True)

    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:0/x", id="port-0"),
        pytest.param("http://127.0.0.1:00/x", id="port-00"),
    ],
)
def test_validate_url_port_zero(url: str) -> None:
    with pytest.raises(InvalidRequest, match="has port 0") as caught:
        netguard.validate_url(url, True)

    assert caught.value.code == "invalid_url"
    assert caught.value.details == {"field": "url"}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("http://127.0.0.1/a\r\nforged", "'\\r'", id="crlf"),
        pytest.param("http://127.0.0.1/a\x00b", "'\\x00'", id="nul"),
        pytest.param("http://127.0.0.1/a b", "' '", id="space"),
        pytest.param("http://127.0.0.1/a\tb", "'\\t'", id="tab"),
        pytest.param("http://127.0.0.1/a\x7fb", "'\\x7f'", id="del"),
        pytest.param("http://127.0.0.1/a\u202eb", "'\\u202e'", id="bidi-override"),
        pytest.param("http://127.0.0.1/a\u3000b", "'\\u3000'", id="ideographic-space"),
    ],
)
def test_validate_url_control_characters(url: str, shown: str) -> None:
    with pytest.raises(InvalidRequest, match="percent-encode") as caught:
        netguard.validate_url(url, True, field="webhook_url")

    assert caught.value.code == "invalid_url"
    assert caught.value.details == {"field": "webhook_url"}
    assert shown in caught.value.message


def test_validate_url_non_ascii_path_accepted() -> None:
    assert netguard.validate_url("http://127.0.0.1/vidéo.mp4", True).endswith("vidéo.mp4")


def test_validate_url_too_long() -> None:
    url = "http://127.0.0.1/" + "a" * netguard.MAX_URL_LENGTH

    with pytest.raises(InvalidRequest, match=f"the limit is {netguard.MAX_URL_LENGTH}") as caught:
        netguard.validate_url(url, True)

    assert caught.value.code == "invalid_url"
    assert caught.value.details == {"field": "url", "max_length": netguard.MAX_URL_LENGTH}


def test_validate_url_at_length_limit() -> None:
    prefix = "http://127.0.0.1/"
    url = prefix + "a" * (netguard.MAX_URL_LENGTH - len(prefix))

    assert netguard.validate_url(url, True) == url


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("a" * 64 + ".example", id="label-over-63"),
        pytest.param("a..example", id="empty-label"),
    ],
)
def test_validate_url_bad_host_label(host: str) -> None:
    with pytest.raises(InvalidRequest, match="is not a valid host name") as caught:
        netguard.validate_url(f"http://{host}/x", True, field="webhook_url")

    assert caught.value.code == "invalid_url"
    assert caught.value.details == {"field": "webhook_url"}


def test_validate_url_blocked_names_field() -> None:
    with pytest.raises(BlockedAddressError, match="the host of webhook_url, 127.0.0.1,") as caught:
        netguard.validate_url("http://127.0.0.1/hook", False, field="webhook_url")

    assert caught.value.details == {
        "host": "127.0.0.1",
        "address": "127.0.0.1",
        "field": "webhook_url",
    }
