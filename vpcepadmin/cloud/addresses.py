"""Which network addresses a cloud call may reach: the one address policy (reliability.md §5.5).

Used twice, with the same rules: when an endpoint override is saved (``credentials.validators``)
and at every new connection (``cloud.connections``), because a name can resolve to something else
between the two (DNS rebinding, a changed record, a poisoned cache).

An address is refused when it is not a public unicast address: private (RFC 1918, ULA), loopback
(unless the simulator is enabled, which is what ``allow_loopback`` says), link-local, shared
(100.64.0.0/10), multicast, reserved, unspecified, documentation and the like — everything
``ipaddress`` does not call global — and explicitly the cloud metadata addresses. An IPv6 address
that carries an IPv4 address (IPv4-mapped, 6to4, NAT64) is judged by the IPv4 address it reaches.
This module imports neither Django nor the credentials: the caller says whether loopback is allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The instance metadata services (AWS/OpenStack/Huawei/OTC, ECS tasks, Alibaba, AWS over IPv6).
# All are non-global already; named so that no change of the standard library can let one through.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
# NAT64 with the well-known prefix: the last 32 bits are the IPv4 address reached (RFC 6052).
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): translated by the site's own gateway to addresses we cannot judge.
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")

# One resolved candidate, as ``socket.getaddrinfo`` gives it: family, type, proto, canonname, sockaddr.
Candidate = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]


class AddressRefused(Exception):
    """A host name resolved to an address that calls must not reach (``address``: the first one)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


def reached_address(address: IPAddress) -> tuple[IPAddress, bool]:
    """The address a packet to ``address`` ends up at, and whether a gateway translates it there.

    An IPv4-mapped IPv6 address is the IPv4 address itself (a dual-stack socket connects to it);
    6to4 and NAT64 addresses reach their IPv4 address through a relay or gateway.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address, False
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, False
    if address.sixtofour is not None:
        return address.sixtofour, True
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), True
    return address, False


def is_refused(address: str, *, allow_loopback: bool) -> bool:
    """True when a call must not connect to ``address`` (an IP literal; an IPv6 zone is ignored).

    Loopback is allowed only with ``allow_loopback`` (and never through a translating gateway,
    which is not our loopback); every other non-public address never is. Text that is not an IP
    address is refused: only resolved addresses are judged here.
    """
    try:
        given = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(given, ipaddress.IPv6Address) and given in NAT64_LOCAL_USE:
        return True
    reached, translated = reached_address(given)
    if reached.is_loopback:
        return translated or not allow_loopback
    return (
        reached in METADATA_ADDRESSES
        or not reached.is_global
        or reached.is_private
        or reached.is_link_local
        or reached.is_multicast
        or reached.is_reserved
        or reached.is_unspecified
    )


def checked_candidates(
    host: str, port: int, *, allow_loopback: bool, family: int = socket.AF_UNSPEC
) -> list[Candidate]:
    """Resolve ``host`` once; every address it resolves to, when none of them is refused.

    Raises ``AddressRefused`` naming the first refused address (one bad answer refuses the name:
    a rebinding resolver mixes a public and an internal one), ``socket.gaierror`` when the name
    does not resolve. The caller connects to these addresses and to nothing it resolves itself.
    """
    candidates = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    for candidate in candidates:
        address = str(candidate[4][0])
        if is_refused(address, allow_loopback=allow_loopback):
            raise AddressRefused(address)
    return candidates
