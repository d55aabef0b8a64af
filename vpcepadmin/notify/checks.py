"""System checks of the notification settings: a destination that cannot be used is an error at
start-up, named by its position (never by its URL, which is a secret)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from vpcepadmin.notify.destinations import email_problem, webhook_problem


@register()
def check_destinations(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for number, url in enumerate(settings.NOTIFY_WEBHOOK_URLS, start=1):
        if problem := webhook_problem(url):
            errors.append(
                Error(f"VPCEPADMIN_NOTIFY_WEBHOOK_URLS: webhook {number} {problem}.", id="vpcepadmin.E301")
            )
    for address in settings.NOTIFY_EMAILS:
        if problem := email_problem(address):
            errors.append(Error(f"VPCEPADMIN_NOTIFY_EMAILS: {address!r} {problem}.", id="vpcepadmin.E302"))
    if settings.NOTIFY_ATTEMPTS < 1 or settings.NOTIFY_TIMEOUT <= 0:
        errors.append(
            Error(
                "VPCEPADMIN_NOTIFY_ATTEMPTS must be at least 1 and VPCEPADMIN_NOTIFY_TIMEOUT positive.",
                id="vpcepadmin.E303",
            )
        )
    return errors
