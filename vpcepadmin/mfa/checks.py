"""System checks of the second factor's settings: a typo must not switch it off unnoticed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from vpcepadmin.roles import ROLE_PERMISSIONS


@register()
def check_second_factor(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Every role named in ``VPCEPADMIN_MFA_REQUIRED_ROLES`` exists; the step-up window is positive."""
    problems: list[CheckMessage] = []
    unknown = sorted(set(settings.MFA_REQUIRED_ROLES) - set(ROLE_PERMISSIONS))
    if unknown:
        problems.append(
            Error(
                f"VPCEPADMIN_MFA_REQUIRED_ROLES names no such role: {', '.join(unknown)}.",
                hint=f"The roles are {', '.join(ROLE_PERMISSIONS)}.",
                id="vpcepadmin.E020",
            )
        )
    if settings.REAUTH_SECONDS < 1:
        problems.append(
            Error(
                f"VPCEPADMIN_REAUTH_SECONDS is {settings.REAUTH_SECONDS}; it must be at least 1.",
                id="vpcepadmin.E021",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_second_factor_required(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if settings.MFA_REQUIRED_ROLES:
        return []
    return [
        Warning(
            "VPCEPADMIN_MFA_REQUIRED_ROLES is empty: nobody has to sign in with a second factor.",
            hint="Leave it unset (operator and admin) in production.",
            id="vpcepadmin.W020",
        )
    ]
