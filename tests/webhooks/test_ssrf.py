"""SSRF: every internal address is refused, however it is written or resolved."""

from __future__ import annotations

import pytest

from core.webhooks import ssrf
from core.webhooks.ssrf import UnresolvableTarget, UnsafeTarget, check_url

pytestmark = pytest.mark.usefixtures("no_allowlist")


@pytest.fixture
def no_allowlist(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = []


@pytest.fixture
def dns(monkeypatch):
    """Answers for names: {host: [addresses]}; any other name does not resolve."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    return table


REFUSED_URLS = [
    "https://127.0.0.1/",
    "https://127.8.9.10/",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.1.1/",
    "https://100.64.0.1/",
    "https://100.127.255.254/",
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://0.0.0.0/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://192.0.0.8/",
    "https://198.18.0.1/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[fe80::1]/",
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:8.8.8.8]/",
    "https://[::ffff:7f00:1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    # Spellings of 127.0.0.1 and friends that resolvers accept.
    "http://2130706433/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://0177.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0x7f.0x0.0x0.0x1/",
    "https://017700000001/",
    "https://3232235777/",
    "https://0xa9fea9fe/",
    "https://08.8.8.8/",
    # Not URLs we call at all.
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "https://user:pass@example.com/",
    "https:///nohost",
    "https://[fe80::1%25eth0]/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_and_spelled_addresses_are_refused(url, dns):
    with pytest.raises(UnsafeTarget):
        check_url(url)


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["93.184.216.34", "10.0.0.1"],  # one bad address among good ones is enough
        ["2606:2800:220:1::1", "::1"],
        ["::ffff:10.0.0.1"],
        ["fd00::1"],
        ["100.64.1.1"],
    ],
)
def test_a_name_is_refused_when_any_address_it_resolves_to_is_internal(addresses, dns):
    dns["hooks.example.org"] = addresses
    with pytest.raises(UnsafeTarget, match=r"hooks\.example\.org resolves to"):
        check_url("https://hooks.example.org/in")


def test_a_public_name_is_accepted_with_every_address_checked(dns):
    dns["hooks.example.org"] = ["93.184.216.34", "2606:2800:220:1::1"]
    target = check_url("https://hooks.example.org:8443/in?x=1")
    assert target.host == "hooks.example.org"
    assert target.port == 8443
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1::1")


def test_an_unresolvable_name_is_a_retryable_error(dns):
    with pytest.raises(UnresolvableTarget) as raised:
        check_url("https://nowhere.example.org/")
    assert raised.value.retryable


def test_plain_http_is_refused_for_public_targets(dns):
    dns["hooks.example.org"] = ["93.184.216.34"]
    with pytest.raises(UnsafeTarget, match="must use https"):
        check_url("http://hooks.example.org/")


def test_the_allowlist_exempts_its_networks_and_only_them(settings, dns):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8", "10.20.0.0/16"]
    dns["receiver.internal"] = ["10.20.3.4"]
    assert check_url("http://127.0.0.1:8765/").addresses == ("127.0.0.1",)
    assert check_url("https://receiver.internal/").addresses == ("10.20.3.4",)
    # http stays loopback-only, allowed or not.
    with pytest.raises(UnsafeTarget, match="must use https"):
        check_url("http://receiver.internal/")
    for refused in ("https://10.21.0.1/", "https://169.254.169.254/", "https://[::1]/"):
        with pytest.raises(UnsafeTarget):
            check_url(refused)


def test_the_allowlist_is_read_from_a_comma_separated_setting(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = "127.0.0.0/8, ::1/128"
    assert check_url("http://[::1]:9/").addresses == ("::1",)


@pytest.mark.parametrize("url", ["https://[::1]/", "https://[0:0:0:0:0:0:0:1]:8443/"])
def test_ipv6_loopback_is_refused_as_loopback(url, dns):
    with pytest.raises(UnsafeTarget) as raised:
        check_url(url)
    assert "loopback" in raised.value.detail
    assert "IPv4" not in raised.value.detail
