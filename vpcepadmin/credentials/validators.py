"""Endpoint overrides obey the SSRF rules of reliability.md §5.5.

An override must be ``https`` on the default port, with no user info, path, query or fragment, on a
host name (never an IP literal) that ends — on a label boundary — in an allowed suffix, and whose
addresses, where the name resolves, are all allowed by the one address policy
(``cloud.addresses``, which every connection applies again). While the simulator is enabled,
loopback hosts (``localhost``, ``127.0.0.1``, ``[::1]``) are allowed over http or https on any port.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from vpcepadmin.cloud.addresses import AddressRefused, checked_candidates

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ALLOWED_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-.")


def _fail(message: str) -> ValidationError:
    return ValidationError(message, code="endpoint")


def _split(url: str) -> tuple[str, str, int | None, str]:
    if any(ch.isspace() or ch in "\\" for ch in url):
        raise _fail("The address must not contain spaces or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _fail("This is not a valid address.") from exc
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _fail("The address must not contain user information.")
    if parts.query or parts.fragment or "#" in url or "?" in url:
        raise _fail("The address must not contain a query or fragment.")
    if parts.path not in ("", "/"):
        raise _fail("The address must not contain a path.")
    return parts.scheme.lower(), (parts.hostname or ""), port, parts.netloc


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    # inet_aton accepts the forms browsers and libc accept: 2130706433, 0x7f000001, 127.1 …
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _resolves_to_refused(host: str) -> bool:
    """True when ``host`` resolves to an address the address policy refuses (the same policy every
    connection applies again, so a name that changes its answer after saving is refused then)."""
    try:
        checked_candidates(host, 443, allow_loopback=settings.SIMULATOR_ENABLED)
    except AddressRefused:
        return True
    except (OSError, UnicodeError):
        return False  # an unresolvable name cannot reach anything; the call will fail visibly
    return False


def validate_endpoint_override(url: str) -> str:
    """Return the normalised override (``scheme://host[:port]``) or raise ``ValidationError``."""
    scheme, host, port, netloc = _split(url.strip())
    if settings.SIMULATOR_ENABLED and host in LOOPBACK_HOSTS:
        if scheme not in ("http", "https"):
            raise _fail("Only http or https is allowed.")
        return f"{scheme}://{netloc}"
    if scheme != "https":
        raise _fail("Only https endpoints are allowed.")
    if port not in (None, 443):
        raise _fail("Only the default https port (443) is allowed.")
    if not host or _is_ip_literal(host) or host in LOOPBACK_HOSTS:
        raise _fail("Use a host name, not an IP address.")
    if host.endswith(".") or not set(host) <= ALLOWED_CHARS or ".." in host:
        raise _fail("The host name may only contain letters, digits, hyphens and dots.")
    suffixes = [suffix.lower().strip(".") for suffix in settings.CLOUD_ALLOWED_ENDPOINT_SUFFIXES]
    if not any(host == suffix or host.endswith("." + suffix) for suffix in suffixes):
        raise _fail(f"The host must end in one of: {', '.join(suffixes)}.")
    if _resolves_to_refused(host):
        raise _fail("The host resolves to a private or reserved address.")
    return f"https://{host}"
