"""System checks that refuse an unsafe configuration (design.md §6).

Errors stop ``runserver``, ``migrate`` and every command that runs checks; warnings are printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

SECRET_KEY_MIN_LENGTH = 50


@register()
def check_secret_key(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    # (An empty key never gets here: the settings module refuses to load without one.)
    if not settings.DEBUG and (
        len(settings.SECRET_KEY) < SECRET_KEY_MIN_LENGTH or settings.SECRET_KEY.startswith("django-insecure")
    ):
        return [
            Error(
                f"VPCEPADMIN_SECRET_KEY is weak (fewer than {SECRET_KEY_MIN_LENGTH} characters).",
                id="vpcepadmin.E002",
            )
        ]
    return []


@register()
def check_fernet_keys(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    from vpcepadmin.credentials.crypto import invalid_keys

    if not settings.FERNET_KEYS:
        if settings.DEBUG:
            return []
        return [
            Error(
                "VPCEPADMIN_FERNET_KEYS is not set: stored cloud secrets could not be encrypted.",
                hint="Generate a key with `python -m vpcepadmin.localenv --fernet-key` and keep it in your "
                "secret store; list several keys comma-separated, newest first, to rotate.",
                id="vpcepadmin.E003",
            )
        ]
    bad = invalid_keys(settings.FERNET_KEYS)
    if bad:
        return [
            Error(
                f"VPCEPADMIN_FERNET_KEYS entry number(s) {', '.join(map(str, bad))} are not Fernet keys.",
                hint="Each key is 32 url-safe base64-encoded bytes.",
                id="vpcepadmin.E004",
            )
        ]
    return []


@register(deploy=True)
def check_production_shape(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.SIMULATOR_ENABLED:
        messages.append(
            Warning(
                "VPCEPADMIN_SIMULATOR is on: accounts may point at loopback endpoints.",
                hint="Turn it off in production.",
                id="vpcepadmin.W001",
            )
        )
    if "locmem" in settings.CACHES["default"]["BACKEND"].lower():
        messages.append(
            Warning(
                "The cache is per process: several app processes would each fetch their own IAM tokens.",
                hint="Set VPCEPADMIN_CACHE_URL=redis://… when running more than one process.",
                id="vpcepadmin.W002",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        messages.append(
            Warning(
                "SQLite is the demo database: it has no row locks, so concurrent edits are not serialised.",
                hint="Set DATABASE_URL=postgres://… in production.",
                id="vpcepadmin.W003",
            )
        )
    return messages


@register()
def check_time_budget(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """A whole apply must end before the app server kills its worker (vpcepadmin/budget.py)."""
    from vpcepadmin.budget import Budget

    return [
        Error(problem, hint="See README, “Deployment”: the time budget.", id="vpcepadmin.E005")
        for problem in Budget.of(settings).problems()
    ]


@register(deploy=True)
def check_serving(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """The app server's workers and threads (gunicorn.conf.py reads the same plan)."""
    from vpcepadmin.serving import plan

    hint = (
        "Leave VPCEPADMIN_WORKERS and VPCEPADMIN_THREADS unset to derive them from the cores "
        "(the cores + 1 threaded workers × 12 threads); see README, “Deployment”."
    )
    return [Warning(problem, hint=hint, id="vpcepadmin.W004") for problem in plan().problems()]


@register()
def check_lockout(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Brute force stays stopped: a limit or a lock time below 1 would switch the lockout off."""
    values = {
        "VPCEPADMIN_LOCKOUT_USER_FAILURES": settings.LOCKOUT_USER_FAILURES,
        "VPCEPADMIN_LOCKOUT_ADDRESS_FAILURES": settings.LOCKOUT_ADDRESS_FAILURES,
        "VPCEPADMIN_LOCKOUT_MINUTES": settings.LOCKOUT_MINUTES,
    }
    return [
        Error(f"{name} is {value}; it must be at least 1.", id="vpcepadmin.E010")
        for name, value in values.items()
        if value < 1
    ]
