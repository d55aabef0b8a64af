"""Where notifications go: the deployment's webhooks and e-mail recipients (settings, never a page).

A webhook URL is a secret — Slack's and Teams' carry their credential in the path — so it lives only
in the settings: rows keep a digest of it (``Destination.key``) and a label naming only its host, and
a worker finds the URL again by the digest. A destination removed from the settings is no longer
sent to.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from vpcepadmin.notify.models import Channel

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Destination:
    channel: str
    address: str  # the webhook URL (a secret) or the e-mail address
    label: str  # what pages and logs show

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.channel}\n{self.address}".encode()).hexdigest()[:16]


def configured() -> bool:
    """Whether any destination is set (read on every audit record: no query, no parsing)."""
    return bool(settings.NOTIFY_WEBHOOK_URLS or settings.NOTIFY_EMAILS)


def destinations() -> list[Destination]:
    """The usable destinations, webhooks first (an unusable one is reported by the system checks)."""
    found = [
        Destination(Channel.WEBHOOK, url, f"webhook {number} ({urlsplit(url).hostname})")
        for number, url in enumerate(settings.NOTIFY_WEBHOOK_URLS, start=1)
        if not webhook_problem(url)
    ]
    found += [
        Destination(Channel.EMAIL, address, f"e-mail {address}")
        for address in settings.NOTIFY_EMAILS
        if not email_problem(address)
    ]
    return found


def by_key(key: str) -> Destination | None:
    return next((destination for destination in destinations() if destination.key == key), None)


def webhook_problem(url: str) -> str:
    """Why ``url`` cannot be a webhook ("" when it can): https, or http to this machine only."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "is not a URL"
    if parts.username or parts.password:
        return "must not carry a user or password"
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and _loopback(parts.hostname):
        return ""
    return "must be https (plain http only to this machine)"


def email_problem(address: str) -> str:
    try:
        validate_email(address)
    except ValidationError:
        return "is not an e-mail address"
    return ""


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
