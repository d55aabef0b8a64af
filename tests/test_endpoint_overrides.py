"""SSRF rules for endpoint overrides (reliability.md §5.5): bad vectors refused, regional hosts accepted."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from vpcepadmin.cloud.regions import HUAWEI, HUAWEI_REGIONS, OTC, OTC_REGIONS, default_endpoints
from vpcepadmin.credentials.validators import validate_endpoint_override

BAD = [
    "https://vpcep.eu-de.otc.t-systems.com@169.254.169.254/",
    "https://user:pw@vpcep.eu-de.otc.t-systems.com/",
    "https://169.254.169.254/",
    "https://[::1]/",
    "https://[fe80::1]/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://127.1/",
    "https://10.0.0.1/",
    "http://vpcep.eu-de.otc.t-systems.com/",
    "https://vpcep.eu-de.otc.t-systems.com:22/",
    "https://vpcep.eu-de.otc.t-systems.com:8443/",
    "https://otc.t-systems.com.evil.tld/",
    "https://evilotc.t-systems.com/",
    "https://vpcep.eu-de.otc.t-systems.com./",
    "https://vpcep.eu-de.otc.t-systems.com#@evil.tld/",
    "https://vpcep.eu-de.otc.t-systems.com\\@evil.tld/",
    "https://vpcep.eu-de.otc.t-systems.com/v1/",
    "https://vpcep.eu-de.otc.t-systems.com/?next=evil",
    "https://ｖｐｃｅｐ.eu-de.otc.t-systems.com/",
    "https://vpcep.eu-de.otc.t-systems.cοm/",
    "file:///etc/passwd",
    "gopher://vpcep.eu-de.otc.t-systems.com/",
    "ftp://vpcep.eu-de.otc.t-systems.com/",
    "https://",
    "vpcep.eu-de.otc.t-systems.com",
    "https://vpcep eu-de.otc.t-systems.com/",
    "https://localhost/",
    "javascript:alert(1)",
]


def _resolver(address: str | None):
    """A stand-in for DNS, a boundary we do not own: one address, or no answer at all."""

    def getaddrinfo(*args, **kwargs):
        if address is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]

    return getaddrinfo


@pytest.mark.parametrize("url", BAD)
def test_it_refuses_bad_vectors(url, settings, monkeypatch) -> None:
    settings.SIMULATOR_ENABLED = False
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(None))
    with pytest.raises(ValidationError):
        validate_endpoint_override(url)


def test_there_are_at_least_25_bad_vectors() -> None:
    assert len(BAD) >= 25


INTERNAL = [
    "10.1.2.3", "127.0.0.1", "169.254.169.254", "fe80::1", "100.100.100.200", "224.0.0.1",
    "::ffff:10.0.0.5", "2002:a00:5::1", "64:ff9b::a00:5",
]  # fmt: skip


@pytest.mark.parametrize("address", INTERNAL)
def test_it_refuses_a_name_resolving_to_a_private_address(address, monkeypatch, settings) -> None:
    """The save-time check is the address policy every connection applies (``cloud.addresses``)."""
    settings.SIMULATOR_ENABLED = False
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(address))
    with pytest.raises(ValidationError, match="private"):
        validate_endpoint_override("https://rebind.eu-de.otc.t-systems.com")


def _all_regional_hosts() -> list[str]:
    hosts = []
    for cloud, regions in ((HUAWEI, HUAWEI_REGIONS), (OTC, OTC_REGIONS)):
        for region in regions:
            endpoints = default_endpoints(cloud, region)
            hosts += [endpoints.vpcep, endpoints.iam]
    return hosts


@pytest.mark.parametrize("url", _all_regional_hosts())
@pytest.mark.parametrize("address", [None, "80.158.3.4"])
def test_it_accepts_the_regional_hosts(url, address, settings, monkeypatch) -> None:
    settings.SIMULATOR_ENABLED = False
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(address))
    assert validate_endpoint_override(url) == url
    assert validate_endpoint_override(url + "/") == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001", "http://localhost:9000", "https://[::1]:8443"])
def test_it_allows_loopback_only_while_the_simulator_is_enabled(url, settings) -> None:
    settings.SIMULATOR_ENABLED = True
    assert validate_endpoint_override(url) == url
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(ValidationError):
        validate_endpoint_override(url)
